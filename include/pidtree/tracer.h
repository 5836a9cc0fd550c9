// The per-event pipeline: decode -> ancestry -> enrichment -> output.
// Knows nothing about BPF; the probe feeds it raw samples and lost counts.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pidtree/ancestry.h"
#include "pidtree/clock.h"
#include "pidtree/output.h"
#include "pidtree/users.h"

namespace pidtree {

class Tracer {
 public:
  Tracer(AncestryResolver &ancestry, UserDb &users, Clock &clock,
         OutputSink &sink)
      : ancestry_(ancestry), users_(users), clock_(clock), sink_(sink) {}

  void begin_batch();
  void on_sample(const void *data, size_t size);
  void on_lost(uint64_t count);
  // Reports lost events of the batch and flushes; false once output failed.
  bool end_batch();

  uint64_t events() const { return events_; }
  uint64_t lost() const { return lost_total_; }
  uint64_t malformed() const { return malformed_; }

 private:
  AncestryResolver &ancestry_;
  UserDb &users_;
  Clock &clock_;
  OutputSink &sink_;
  JsonFormatter formatter_;
  int64_t boot_to_real_ns_ = 0;
  uint64_t events_ = 0;
  uint64_t lost_batch_ = 0;
  uint64_t lost_total_ = 0;
  uint64_t malformed_ = 0;
};

}  // namespace pidtree
