// Puts events from the per-CPU perf buffers back into kernel time order.
// Each CPU's buffer is in order, but a process may fork on one CPU, exec on
// another and connect on a third; the table must see them as they happened.
// Events are held until the caller knows that no earlier event can still
// arrive (the watermark), then released oldest first.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "probes/events.h"

namespace pidtree {

class EventOrderer {
 public:
  void push(Event event) {
    held_.push_back(Held{event_time(event), std::move(event)});
  }

  // Calls fn(const Event&) for every held event stamped at or before
  // `watermark`, in time order (arrival order among equal stamps).
  // Only small keys are sorted; the events stay where they arrived.
  template <typename Fn>
  void release(uint64_t watermark, Fn fn) {
    keys_.clear();
    for (size_t i = 0; i < held_.size(); ++i)
      if (held_[i].ts <= watermark)
        keys_.push_back(Key{held_[i].ts, i});
    if (keys_.empty())
      return;
    // The index breaks ties: held_ is in arrival order.
    auto before = [](const Key &a, const Key &b) {
      return a.ts != b.ts ? a.ts < b.ts : a.index < b.index;
    };
    if (!std::is_sorted(keys_.begin(), keys_.end(), before))
      std::sort(keys_.begin(), keys_.end(), before);
    for (const Key &key : keys_)
      fn(held_[key.index].event);
    if (keys_.size() == held_.size()) {
      held_.clear();
      // After a backlog, give the memory back.
      if (held_.capacity() > kKeepCapacity) {
        std::vector<Held>().swap(held_);
        std::vector<Key>().swap(keys_);
      }
      return;
    }
    held_.erase(std::remove_if(
                    held_.begin(), held_.end(),
                    [watermark](const Held &h) { return h.ts <= watermark; }),
                held_.end());
  }

  size_t held() const { return held_.size(); }

 private:
  static constexpr size_t kKeepCapacity = 16384;  // events
  struct Held {
    uint64_t ts;
    Event event;
  };
  struct Key {
    uint64_t ts;
    size_t index;
  };
  std::vector<Held> held_;  // in arrival order
  std::vector<Key> keys_;   // scratch, kept for its capacity
};

}  // namespace pidtree
