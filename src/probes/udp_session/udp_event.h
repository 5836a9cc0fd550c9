// udp_session's events: a session's start and end from the kernel, and
// what the probe's scan of the sessions map finds. None is a line by
// itself: the session book (session_book.h) makes the lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/net.h"
#include "event.h"
#include "probes/untracked.h"

namespace pidtree {

struct UdpDest {
  uint32_t slot = 0;  // the kernel's slot: stable for the session's life
  IpAddress addr;
  uint16_t port = 0;
  uint64_t msg_count = 0;  // since the session began (the kernel's count)
  uint64_t first_ns = 0;   // boot clock
  uint64_t last_ns = 0;
};

// A session as the kernel counted it (bpf/event.h).
struct UdpSessionRecord {
  uint64_t first_ns = 0;
  uint64_t last_ns = 0;
  uint32_t pid = 0;  // the first sender
  uint32_t tid = 0;
  uint32_t uid = 0;
  uint32_t loginuid = PIDTREE_NO_LOGINUID;
  uint64_t cgroup_id = 0;
  std::string comm;
  Family family = Family::kIpv4;
  IpAddress saddr;
  uint16_t sport = 0;
  // One entry per slot the kernel claimed, in slot order (a destination
  // two CPUs claimed at once has two).
  std::vector<UdpDest> dests;
  uint64_t other_msgs = 0;  // to destinations beyond PIDTREE_UDP_MAX_DESTS
};

// The kernel's record, checked: nullopt for a family that is not IPv4 or
// IPv6. Slots that were claimed but not written yet are left out.
std::optional<UdpSessionRecord> parse_udp_session(
    const pidtree_udp_session &raw);

// From the kernel: a session's first send (start) or its socket's release
// (end, with the record).
struct UdpSessionEvent {
  static constexpr bool kForStage = true;  // no line of its own
  uint64_t ts_boot_ns = 0;
  bool end = false;
  uint64_t key = 0;  // the socket
  uint32_t pid = 0;  // start: the sender; end: the releasing task
  uint32_t tid = 0;
  uint32_t uid = 0;
  uint32_t loginuid = PIDTREE_NO_LOGINUID;
  uint64_t cgroup_id = 0;
  std::string comm;
  UdpSessionRecord record;  // end only
};

std::optional<UdpSessionEvent> decode_udp_session_event(const void *data,
                                                        size_t size);

// From the probe's scan of the map, at ts_boot_ns: a session old enough
// for an interim report, one idle for session_max_duration (taken out of
// the map), or, as the tracer stops, one still open.
struct UdpSessionScanned {
  static constexpr bool kForStage = true;
  enum class Why { kDue, kExpired, kStopped };
  uint64_t ts_boot_ns = 0;
  uint64_t key = 0;
  Why why = Why::kDue;
  UdpSessionRecord record;
};

// The sends the kernel could not give a session (the map was full): a
// udp_sessions_untracked line when the count grows.
using UdpSessionsUntracked = Untracked<struct UdpSessionsUntrackedTag>;

}  // namespace pidtree
