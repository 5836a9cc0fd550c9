// Puts events from the per-CPU perf buffers back into kernel time order.
// Each CPU's buffer is in order, but a process may fork on one CPU, exec on
// another and connect on a third; the table must see them as they happened.
// Events are held until the caller knows that no earlier event can still
// arrive (the watermark), then released oldest first.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "pidtree/decode.h"

namespace pidtree {

class EventOrderer {
 public:
  void push(Event event) {
    held_.push_back(Held{event_time(event), next_seq_++, std::move(event)});
  }

  // Calls fn(const Event&) for every held event stamped at or before
  // `watermark`, in time order (arrival order among equal stamps).
  template <typename Fn>
  void release(uint64_t watermark, Fn fn) {
    std::sort(held_.begin(), held_.end(), [](const Held &a, const Held &b) {
      return a.ts != b.ts ? a.ts < b.ts : a.seq < b.seq;
    });
    size_t n = 0;
    while (n < held_.size() && held_[n].ts <= watermark)
      fn(held_[n++].event);
    held_.erase(held_.begin(), held_.begin() + static_cast<ptrdiff_t>(n));
  }

  size_t held() const { return held_.size(); }

 private:
  struct Held {
    uint64_t ts;
    uint64_t seq;
    Event event;
  };
  std::vector<Held> held_;
  uint64_t next_seq_ = 0;
};

}  // namespace pidtree
