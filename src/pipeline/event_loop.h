// The tracer's main loop: wait for the kernel's events, put them (and the
// events the probes make in user space) through the pipeline in batches,
// reload the configuration and reopen the output file when asked (SIGHUP),
// resync the process table after losses, and stop on a signal or once the
// output is gone.
#pragma once

#include <signal.h>

#include <string>

#include "common/clock.h"
#include "config/config_reload.h"
#include "output/output.h"
#include "pipeline/telemetry.h"
#include "pipeline/tracer.h"
#include "probes/probe_set.h"
#include "process/ancestry.h"

namespace pidtree {

// Where the kernel's events come from (kernel/bpf_program.h).
class EventSource {
 public:
  virtual ~EventSource() = default;
  // Waits up to timeout_ms for events and hands them on; <0 on error.
  virtual int poll(int timeout_ms) = 0;
  // Hands on whatever is buffered without waiting.
  virtual void drain() = 0;
};

struct LoopParts {
  EventSource &kernel;
  Tracer &tracer;
  ProbeSet &probes;
  OutputSink &sink;
  SystemClock &clock;
  ConfigReloader *reloader = nullptr;  // without a configuration file: none
  TableAncestry *table = nullptr;      // with --ancestry proc: none
  Enricher *enricher = nullptr;        // its upkeep between batches
  OutputFile *output_file = nullptr;   // -f: reopened on SIGHUP
  Telemetry *telemetry = nullptr;      // stats and lost-event lines
};

struct LoopEnd {
  bool output_open = true;  // false: the output failed or its reader left
  std::string error;        // "" or one line (a reader leaving is none)
  bool restart = false;     // the configuration asked for a restart
};

// Runs until `exiting` is set, the output is gone, or a reload asks for a
// restart.
LoopEnd run_event_loop(const LoopParts &parts,
                       const volatile sig_atomic_t &exiting,
                       volatile sig_atomic_t &reload);

// After the kernel side is detached: what is still buffered is written
// while the output is open. "" or why the output failed.
std::string finish_event_loop(const LoopParts &parts, const LoopEnd &end);

}  // namespace pidtree
