// The per-event pipeline: decode -> (kernel time order) -> ancestry ->
// enrichment -> output. Knows nothing about BPF; the probe feeds it raw
// samples and lost counts.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/clock.h"
#include "enrich/enricher.h"
#include "event.h"
#include "output/output.h"
#include "pipeline/event_orderer.h"
#include "pipeline/stage.h"
#include "process/ancestry.h"
#include "process/users.h"

namespace pidtree {

class Tracer : private LineOutput {
 public:
  // `processes` (optional) receives the process events, in time order
  // with the connects, before any connect that follows them is resolved.
  Tracer(AncestryResolver &ancestry, UserDb &users, Clock &clock,
         OutputSink &sink, ProcessEventHandler *processes = nullptr)
      : ancestry_(ancestry),
        users_(users),
        clock_(clock),
        sink_(sink),
        processes_(processes) {}

  // A probe's own step, offered every probe event first (stage.h).
  void add_stage(EventStage *stage) { stages_.push_back(stage); }
  // The enrich stage (containers, container_labels, plugins); without one,
  // lines have nothing added.
  void set_enricher(Enricher *enricher) { enricher_ = enricher; }

  void begin_batch();
  void on_sample(const void *data, size_t size);
  // An event made in user space (a snapshot), ordered with the kernel's.
  void push(Event event) { orderer_.push(std::move(event)); }
  void on_lost(uint64_t count);
  // Handles the held events stamped at or before `watermark` (boot clock
  // ns) in time order, reports lost events, and flushes. False once the
  // output has failed.
  bool end_batch(uint64_t watermark = UINT64_MAX);
  size_t held() const { return orderer_.held(); }

  uint64_t events() const { return events_; }
  uint64_t lost() const { return lost_total_; }
  uint64_t malformed() const { return malformed_; }
  // Events not written because of container_labels.
  uint64_t dropped() const { return enricher_ ? enricher_->dropped() : 0; }
  // Lines of each probe (by slot) so far; a flood summary is one.
  uint64_t lines_of(uint8_t slot) const {
    return slot < lines_by_slot_.size() ? lines_by_slot_[slot] : 0;
  }

 private:
  void handle(const Event &event);
  template <typename ProbeEvent>
  void report(const ProbeEvent &event);
  // LineOutput, for the stages.
  Ancestry resolve(const EventTask &task) override;
  std::string username(uint32_t uid) override;
  const Enrichment *enrich(const EventOrigin &origin) override;
  std::string timestamp(uint64_t boot_ns) override;
  std::string &lines() override { return sink_.buffer(); }

  AncestryResolver &ancestry_;
  UserDb &users_;
  Clock &clock_;
  OutputSink &sink_;
  ProcessEventHandler *processes_;
  std::vector<EventStage *> stages_;
  Enricher *enricher_ = nullptr;
  Enrichment nothing_;
  EventOrderer orderer_;
  JsonFormatter formatter_;  // the tracer's own lines
  int64_t boot_to_real_ns_ = 0;
  TimestampFormatter timestamps_;
  uint64_t events_ = 0;
  uint64_t lost_batch_ = 0;
  uint64_t lost_total_ = 0;
  uint64_t malformed_ = 0;
  std::array<uint64_t, PIDTREE_FILTER_SLOTS> lines_by_slot_{};
};

}  // namespace pidtree
