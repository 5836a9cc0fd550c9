// Where an event comes from, as the enrich stage needs it: the probe, the
// task's cgroup (its container) and, for sourceipmap, the source address.
#pragma once

#include <cstdint>

#include "common/net.h"

namespace pidtree {

struct EventOrigin {
  uint8_t slot = 0;        // the probe: PIDTREE_SLOT_*
  uint64_t cgroup_id = 0;  // the task's cgroup v2 inode; 0 when not known
  const IpAddress *saddr = nullptr;  // where the event has one
  uint32_t pid = 0;  // for a cgroup not known: /proc/PID/cgroup says
};

}  // namespace pidtree
