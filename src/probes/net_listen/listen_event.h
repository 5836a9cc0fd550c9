// net_listen's event: a TCP listen or UDP bind (from the kernel's record),
// or a listening socket found by a snapshot; written as a line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/net.h"
#include "enrich/origin.h"
#include "event.h"
#include "output/json.h"

namespace pidtree {

enum class Protocol { kTcp, kUdp };

struct ListenEvent {
  uint64_t ts_boot_ns = 0;  // the listen or bind; a snapshot's scan
  uint32_t pid = 0;
  uint32_t tid = 0;    // none in a snapshot
  uint32_t uid = 0;    // the task's; in a snapshot the socket owner's
  uint32_t netns = 0;  // network namespace inode
  Family family = Family::kIpv4;
  IpAddress laddr;
  uint16_t port = 0;
  Protocol protocol = Protocol::kTcp;
  std::string comm;
  bool snapshot = false;
  uint32_t loginuid = PIDTREE_NO_LOGINUID;
  uint64_t cgroup_id = 0;  // 0 in a snapshot: read from /proc when needed

  // A snapshot's uid is the socket's, not news of the process's.
  EventTask task() const {
    return snapshot ? EventTask{pid, std::nullopt, std::nullopt}
                    : EventTask{pid, uid, loginuid};
  }
  EventOrigin origin() const {
    return EventOrigin{PIDTREE_SLOT_NET_LISTEN, cgroup_id, nullptr, pid};
  }
};

// nullopt for a record that is too short, of another kind, family or
// protocol.
std::optional<ListenEvent> decode_listen_event(const void *data, size_t size);

// {"timestamp", "probe": "net_listen", "pid", "tid" (not in snapshots),
//  "comm", "uid", "username", "family", "laddr", "port", "protocol",
//  "netns", "snapshot", "proctree", "error"}
void append_json(std::string *out, const ListenEvent &event,
                 const EventLine &line);

}  // namespace pidtree
