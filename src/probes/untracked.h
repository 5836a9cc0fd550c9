// Events the kernel could not keep track of (a map was full), counted per
// CPU in a map of counters: read at each scan, a typed line
// (JsonFormatter::counter) when the count has grown. Tag tells one
// counter's events from another's in the event variant.
#pragma once

#include <cstdint>
#include <optional>

namespace pidtree {

template <typename Tag>
struct Untracked {
  static constexpr bool kForStage = true;
  uint64_t ts_boot_ns = 0;  // the scan's
  uint64_t count = 0;       // since the last such line
  uint64_t total = 0;
};

// Event: an Untracked<...>.
template <typename Event>
class UntrackedCounter {
 public:
  UntrackedCounter(const char *map, uint32_t index)
      : map_(map), index_(index) {}

  // The event when the counter has grown since the last one. Maps: a
  // MapAccess (kernel/filter_maps.h).
  template <typename Maps>
  std::optional<Event> take(Maps &maps, uint64_t now_ns) {
    uint64_t total = 0;
    if (!maps.sum_percpu(map_, index_, &total) || total <= reported_)
      return std::nullopt;
    Event u{now_ns, total - reported_, total};
    reported_ = total;
    return u;
  }

 private:
  const char *map_;
  uint32_t index_;
  uint64_t reported_ = 0;
};

}  // namespace pidtree
