#include "pidtree/tracer.h"

#include <cinttypes>
#include <cstdio>

#include "pidtree/decode.h"

namespace pidtree {

void Tracer::begin_batch() { boot_to_real_ns_ = clock_.boot_to_realtime_ns(); }

void Tracer::on_sample(const void *data, size_t size) {
  auto event = decode_connect_event(data, size);
  if (!event) {
    ++malformed_;
    std::fprintf(
        stderr, "pidtree-bcc: dropped a malformed record of %zu bytes\n", size);
    return;
  }
  ++events_;
  Ancestry ancestry = ancestry_.resolve(*event);
  std::string timestamp = format_rfc3339_utc(
      static_cast<int64_t>(event->ts_boot_ns) + boot_to_real_ns_);
  sink_.add_line(formatter_.connect_event(*event, ancestry,
                                          users_.name(event->uid), timestamp));
}

void Tracer::on_lost(uint64_t count) { lost_batch_ += count; }

bool Tracer::end_batch() {
  if (lost_batch_ > 0) {
    lost_total_ += lost_batch_;
    std::fprintf(stderr,
                 "pidtree-bcc: lost %" PRIu64 " events (%" PRIu64
                 " in all): the perf buffer was full; try a larger "
                 "--perf-pages\n",
                 lost_batch_, lost_total_);
    sink_.add_line(formatter_.lost_events(
        lost_batch_, lost_total_, format_rfc3339_utc(clock_.realtime_ns())));
    lost_batch_ = 0;
  }
  return sink_.flush();
}

}  // namespace pidtree
