// Time: kernel boot-clock stamps -> wall-clock RFC 3339 text.
#pragma once

#include <cstdint>
#include <string>

namespace pidtree {

class Clock {
 public:
  virtual ~Clock() = default;
  // Nanoseconds to add to a CLOCK_BOOTTIME stamp to get CLOCK_REALTIME.
  virtual int64_t boot_to_realtime_ns() = 0;
  // CLOCK_REALTIME now, in nanoseconds since the Unix epoch.
  virtual int64_t realtime_ns() = 0;
};

// Reads both clocks; re-sampled by the caller so NTP steps are followed.
class SystemClock : public Clock {
 public:
  int64_t boot_to_realtime_ns() override;
  int64_t realtime_ns() override;
  // CLOCK_BOOTTIME now: the clock of the kernel's event stamps.
  int64_t boottime_ns();
};

// CLOCK_BOOTTIME now, for work outside the event stream (scans, snapshots).
uint64_t boottime_now_ns();
// CLOCK_MONOTONIC now (std::chrono::steady_clock's), for intervals.
uint64_t monotonic_now_ns();

// "2026-11-29T12:05:28.123456Z" for nanoseconds since the Unix epoch.
std::string format_rfc3339_utc(int64_t realtime_ns);

// The same text for a stream of stamps, most within the same second: the
// calendar part is worked out once per second, the microseconds by hand.
class TimestampFormatter {
 public:
  // Valid until the next call.
  const std::string &format(int64_t realtime_ns);

 private:
  int64_t second_ = 0;
  std::string text_;  // empty until the first call
};

}  // namespace pidtree
