// tcp_connect's event: decoded from the kernel's record, written as a line.
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

struct ConnectEvent {
  uint64_t ts_boot_ns = 0;
  uint32_t pid = 0;
  uint32_t tid = 0;
  uint32_t uid = 0;
  Family family = Family::kIpv4;
  IpAddress saddr;
  IpAddress daddr;
  uint16_t sport = 0;
  uint16_t dport = 0;
  std::string comm;
  uint32_t loginuid = PIDTREE_NO_LOGINUID;
  uint64_t cgroup_id = 0;

  EventTask task() const { return EventTask{pid, uid, loginuid}; }
  EventOrigin origin() const {
    return EventOrigin{PIDTREE_SLOT_TCP_CONNECT, cgroup_id, &saddr, pid};
  }
};

// nullopt for a record that is too short, of another kind or family.
std::optional<ConnectEvent> decode_connect_event(const void *data, size_t size);

// {"timestamp", "probe": "tcp_connect", "pid", "tid", "comm", "uid",
//  "username", "family", "saddr", "sport", "daddr", "port", "proctree",
//  "error"}
void append_json(std::string *out, const ConnectEvent &event,
                 const EventLine &line);

}  // namespace pidtree
