#include "enrich/cgroup_event.h"

#include <cstring>

#include "event.h"

namespace pidtree {

std::optional<CgroupEvent> decode_cgroup_event(const void *data, size_t size) {
  constexpr size_t kHead = offsetof(pidtree_cgroup_event, path);
  if (data == nullptr || size < kHead)
    return std::nullopt;
  pidtree_cgroup_event raw;
  std::memcpy(&raw, data, kHead);
  if (raw.kind != PIDTREE_EVENT_CGROUP || raw.path_len >= PIDTREE_CGROUP_PATH ||
      size < kHead + raw.path_len)
    return std::nullopt;
  CgroupEvent ev;
  ev.ts_boot_ns = raw.ts_boot_ns;
  ev.id = raw.id;
  ev.made = raw.made != 0;
  const char *path = static_cast<const char *>(data) + kHead;
  ev.path.assign(path, strnlen(path, raw.path_len));
  while (!ev.path.empty() && ev.path[0] == '/')
    ev.path.erase(0, 1);
  return ev;
}

}  // namespace pidtree
