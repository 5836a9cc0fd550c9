#include "common/clock.h"

#include <time.h>

#include <cstdio>

namespace pidtree {

namespace {

int64_t read_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

int64_t SystemClock::boot_to_realtime_ns() {
  // Bracket the boot-clock read so the offset error is at most half the gap.
  int64_t boot1 = read_ns(CLOCK_BOOTTIME);
  int64_t real = read_ns(CLOCK_REALTIME);
  int64_t boot2 = read_ns(CLOCK_BOOTTIME);
  return real - (boot1 + (boot2 - boot1) / 2);
}

int64_t SystemClock::realtime_ns() { return read_ns(CLOCK_REALTIME); }

int64_t SystemClock::boottime_ns() { return read_ns(CLOCK_BOOTTIME); }

uint64_t boottime_now_ns() {
  return static_cast<uint64_t>(read_ns(CLOCK_BOOTTIME));
}

uint64_t monotonic_now_ns() {
  return static_cast<uint64_t>(read_ns(CLOCK_MONOTONIC));
}

namespace {

// Whole seconds and the nanoseconds past them (rounded towards -infinity).
void split_ns(int64_t realtime_ns, int64_t *secs, int64_t *rem) {
  *secs = realtime_ns / 1000000000;
  *rem = realtime_ns % 1000000000;
  if (*rem < 0) {
    *rem += 1000000000;
    --*secs;
  }
}

}  // namespace

std::string format_rfc3339_utc(int64_t realtime_ns) {
  int64_t secs, rem;
  split_ns(realtime_ns, &secs, &rem);
  time_t t = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(rem / 1000));
  return buf;
}

const std::string &TimestampFormatter::format(int64_t realtime_ns) {
  int64_t secs, rem;
  split_ns(realtime_ns, &secs, &rem);
  if (text_.empty() || secs != second_) {
    text_ = format_rfc3339_utc(secs * 1000000000);
    second_ = secs;
  }
  // The text always ends ".uuuuuuZ", whatever the width of the year.
  int64_t us = rem / 1000;
  for (size_t i = text_.size() - 2; i >= text_.size() - 7; --i) {
    text_[i] = static_cast<char>('0' + us % 10);
    us /= 10;
  }
  return text_;
}

}  // namespace pidtree
