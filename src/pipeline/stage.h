// A probe's own step in the pipeline, for events that are not one line
// each (udp_session: a session's start keeps the sender's tree, its end or
// idle time-out makes the line). The tracer offers each event to its
// stages, in kernel time order, before it makes a line of it.
#pragma once

#include <cstdint>
#include <string>

#include "enrich/origin.h"
#include "output/json.h"
#include "probes/events.h"
#include "process/ancestry.h"

namespace pidtree {

// What a stage may use of the pipeline.
class LineOutput {
 public:
  virtual ~LineOutput() = default;
  // The tree of `task` as the process table has it at this point of the
  // event order.
  virtual Ancestry resolve(const EventTask &task) = 0;
  virtual std::string username(uint32_t uid) = 0;
  // The enrich stage's additions to a line from `origin`; nullptr when the
  // line is not to be written (container_labels). Valid until the next
  // call.
  virtual const Enrichment *enrich(const EventOrigin &origin) = 0;
  // RFC 3339 text of a boot-clock stamp.
  virtual std::string timestamp(uint64_t boot_ns) = 0;
  // Where whole lines are appended.
  virtual std::string &lines() = 0;
};

class EventStage {
 public:
  virtual ~EventStage() = default;
  // True when it took the event: the tracer then makes no line of it.
  virtual bool take(const Event &event, LineOutput &out) = 0;
};

}  // namespace pidtree
