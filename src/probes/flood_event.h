// What the kernel counted of a process over its flood budget (bpf/event.h):
// one entry per (process, probe, destination), taken by the flood watch
// (flood_watch.h), which makes one summary line of each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/net.h"
#include "event.h"
#include "probes/untracked.h"

namespace pidtree {

// From the kernel: process `pid` went over its budget (once per window
// while it stays over), so its tree is kept as of then for its summaries.
struct FloodBegins {
  static constexpr bool kForStage = true;
  uint64_t ts_boot_ns = 0;
  uint32_t pid = 0;
  uint32_t uid = 0;
  uint32_t loginuid = PIDTREE_NO_LOGINUID;
};

std::optional<FloodBegins> decode_flood_event(const void *data, size_t size);

struct FloodSummary {
  static constexpr bool kForStage = true;  // the flood watch makes its line
  uint64_t ts_boot_ns = 0;                 // the scan that took it
  uint8_t slot = 0;                        // the probe: PIDTREE_SLOT_*
  uint8_t protocol = 0;  // net_listen: IPPROTO_TCP (6) or _UDP (17)
  IpAddress addr;        // the destination (net_listen: the local address)
  uint16_t port = 0;
  uint32_t pid = 0;
  uint32_t tid = 0;  // the task of the first event counted, and its ids
  uint32_t uid = 0;
  uint32_t loginuid = PIDTREE_NO_LOGINUID;
  uint32_t netns = 0;
  uint64_t cgroup_id = 0;
  std::string comm;
  uint64_t count = 0;  // events (udp_session: messages)
  uint64_t first_ns = 0;
  uint64_t last_ns = 0;
};

// The kernel's entry, checked: nullopt for a family that is not IPv4 or
// IPv6, a slot that is no probe's, or a count of 0 (an entry made but not
// counted yet cannot be taken: see flood_watch.h).
std::optional<FloodSummary> parse_flood_entry(const pidtree_flood_key &key,
                                              const pidtree_flood_entry &entry);

// ,"family":...,"<key>":"<address>","port":N: the destination part of a
// summary line, for a probe whose lines name the address `key`.
void append_flood_address(std::string *out, const char *key,
                          const FloodSummary &s);

// Events over budget that no entry had room for (the map was full): a
// flood_untracked line when the count grows.
using FloodUntracked = Untracked<struct FloodUntrackedTag>;

}  // namespace pidtree
