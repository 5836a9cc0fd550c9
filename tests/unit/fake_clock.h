// A Clock (common/clock.h) that says what the test sets: both readings 0
// until then.
#pragma once

#include <cstdint>

#include "common/clock.h"

namespace pidtree {
namespace testing {

class FakeClock : public Clock {
 public:
  FakeClock() = default;
  explicit FakeClock(int64_t now_ns) : now(now_ns) {}
  int64_t boot_to_realtime_ns() override { return offset; }
  int64_t realtime_ns() override { return now; }
  int64_t offset = 0;
  int64_t now = 0;
};

}  // namespace testing
}  // namespace pidtree
