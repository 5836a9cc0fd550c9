// A cgroup v2 directory made or removed, from the kernel
// (bpf/cgroup_events.bpf.c): the enrich stage learns a container's cgroup
// from it before any event of a task in it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace pidtree {

struct CgroupEvent {
  uint64_t ts_boot_ns = 0;
  uint64_t id = 0;  // the directory's inode
  bool made = true;
  std::string path;  // from the hierarchy's root, without the leading '/'
};

// nullopt for a record that is short, of another kind, or whose path is
// longer than what came.
std::optional<CgroupEvent> decode_cgroup_event(const void *data, size_t size);

}  // namespace pidtree
