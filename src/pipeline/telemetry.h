// The tracer's lines about itself, for a fleet to alert on a tracer that
// falls behind: a "stats" line every --stats-interval seconds, and
// upstream's "lost_event_telemetry" line every --lost-event-telemetry
// events. Pure: the event loop gathers the counters (TracerCounters) and
// writes the lines.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pidtree {

struct TracerCounters {
  uint64_t events = 0;  // handled (every probe's, user space's too)
  uint64_t lost = 0;    // events the perf buffer had no room for, in all
  uint64_t malformed = 0;
  uint64_t container_dropped = 0;  // not written: container_labels
  std::vector<std::pair<std::string, uint64_t>> lines;  // by probe
  bool have_table = false;                              // --ancestry table
  uint64_t table_live = 0;
  uint64_t table_exited = 0;  // exited processes kept for descendants
  uint64_t table_evictions = 0;
  uint64_t reloads_applied = 0;
  uint64_t reloads_refused = 0;
  uint64_t rss_kb = 0;
  double cpu_s = 0;  // user + system, since the start
};

// The tracer's own RSS (KiB) and CPU seconds from /proc/self/statm and
// /proc/self/stat text; false when either is not what Linux writes.
bool parse_self_usage(const std::string &statm, const std::string &stat,
                      long page_kb, long ticks_per_s, uint64_t *rss_kb,
                      double *cpu_s);
// The same, read now.
bool read_self_usage(uint64_t *rss_kb, double *cpu_s);

class Telemetry {
 public:
  // `stats_interval_s`: 0 for no stats lines; `lost_every`: a lost-event
  // line each time this many more events were handled, 0 for none.
  Telemetry(uint64_t stats_interval_s, uint64_t lost_every,
            uint64_t start_mono_ns)
      : interval_ns_(stats_interval_s * 1'000'000'000ull),
        lost_every_(lost_every),
        last_mono_ns_(start_mono_ns),
        next_lost_at_(lost_every) {}

  bool stats_due(uint64_t mono_ns) const {
    return interval_ns_ && mono_ns - last_mono_ns_ >= interval_ns_;
  }
  // {"type":"stats",...}; the interval's figures are since the last one.
  std::string stats_line(uint64_t mono_ns, const TracerCounters &c,
                         const std::string &timestamp);
  bool lost_due(uint64_t events) const {
    return lost_every_ && events >= next_lost_at_;
  }
  // {"type":"lost_event_telemetry","timestamp","count" (lost in all)} once
  // `events` has passed the next multiple of lost_every; "" otherwise.
  std::string lost_line(uint64_t events, uint64_t lost,
                        const std::string &timestamp);

 private:
  uint64_t interval_ns_;
  uint64_t lost_every_;
  uint64_t last_mono_ns_;
  uint64_t next_lost_at_;
  uint64_t last_events_ = 0;
  uint64_t last_lost_ = 0;
  double last_cpu_s_ = 0;
};

}  // namespace pidtree
