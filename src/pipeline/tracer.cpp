#include "pipeline/tracer.h"

#include <cinttypes>
#include <cstdio>
#include <type_traits>

#include "output/json.h"
#include "probes/events.h"

namespace pidtree {

void Tracer::begin_batch() { boot_to_real_ns_ = clock_.boot_to_realtime_ns(); }

void Tracer::on_sample(const void *data, size_t size) {
  auto event = decode_event(data, size);
  if (!event) {
    ++malformed_;
    std::fprintf(
        stderr, "pidtree-bcc: dropped a malformed record of %zu bytes\n", size);
    return;
  }
  orderer_.push(std::move(*event));
}

void Tracer::handle(const Event &event) {
  if (const auto *proc = std::get_if<ProcEvent>(&event)) {
    if (processes_)
      processes_->apply(*proc);
    return;
  }
  if (const auto *cgroup = std::get_if<CgroupEvent>(&event)) {
    if (enricher_)
      enricher_->cgroup(*cgroup);
    return;
  }
  for (EventStage *stage : stages_) {
    if (stage->take(event, *this)) {
      ++events_;
      sink_.flush_if_full();
      return;
    }
  }
  std::visit(
      [this](const auto &e) {
        using E = std::decay_t<decltype(e)>;
        if constexpr (!std::is_same_v<E, ProcEvent> &&
                      !std::is_same_v<E, CgroupEvent> && !for_stage<E>::value)
          report(e);
      },
      event);
}

Ancestry Tracer::resolve(const EventTask &task) {
  return ancestry_.resolve(task);
}

std::string Tracer::username(uint32_t uid) { return users_.name(uid); }

const Enrichment *Tracer::enrich(const EventOrigin &origin) {
  const Enrichment *e = enricher_ ? enricher_->enrich(origin) : &nothing_;
  if (e && origin.slot < lines_by_slot_.size())
    ++lines_by_slot_[origin.slot];
  return e;
}

std::string Tracer::timestamp(uint64_t boot_ns) {
  return timestamps_.format(static_cast<int64_t>(boot_ns) + boot_to_real_ns_);
}

template <typename ProbeEvent>
void Tracer::report(const ProbeEvent &event) {
  ++events_;
  // First: an event container_labels drops costs no ancestry.
  const Enrichment *enrichment = enrich(event.origin());
  if (!enrichment)
    return;
  Ancestry ancestry = ancestry_.resolve(event.task());
  const std::string &timestamp = timestamps_.format(
      static_cast<int64_t>(event.ts_boot_ns) + boot_to_real_ns_);
  append_json(
      &sink_.buffer(), event,
      EventLine{ancestry, users_.name(event.uid), timestamp, enrichment});
  // A backlog drained at once is written as it goes, not held whole.
  sink_.flush_if_full();  // a failure is sticky: end_batch's flush says so
}

void Tracer::on_lost(uint64_t count) { lost_batch_ += count; }

bool Tracer::end_batch(uint64_t watermark) {
  orderer_.release(watermark, [this](const Event &e) { handle(e); });
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
