// Floods, the user-space half (bpf/event.h has the kernel's): writes each
// process's budget of reported events into the kernel, and takes what the
// kernel counted beyond it once per window, one summary line per (process,
// probe, destination), so a process that floods the perf buffer costs it
// at most its budget per second and every other process's events still
// get through. Serves every probe: a probe only says how its destination
// is written (Probe::append_flood_destination).
//
// Exact counts without a race: an entry carries the generation that was
// current when it was made. Each scan takes the entries of the generation
// the previous scan retired (a whole window ago, so no BPF program still
// adds to them), then retires the current one. A summary line is thus
// written one to two windows after its first event; its tree is the one
// the process had when it went over its budget (the kernel says so in the
// event order, FloodBegins), so a process gone by then still has it.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernel/filter_maps.h"
#include "pipeline/stage.h"
#include "probes/probe.h"
#include "probes/probe_worker.h"

namespace pidtree {

class FloodWatch : public EventStage {
 public:
  static constexpr uint64_t kWindowNs = 1'000'000'000;  // the budget's
  // A process's marker comes once a window while it floods, and its
  // summaries at most two windows later: a tree kept longer is not needed.
  static constexpr uint64_t kPinNs = 4 * kWindowNs;

  // `budget`: events per process per window, all probes together; 0: no
  // limit (nothing is counted, no scans).
  explicit FloodWatch(uint64_t budget) : budget_(budget) {}
  ~FloodWatch() override { worker_.stop(); }

  // The probes whose summaries it writes (by slot).
  void set_probes(std::vector<const Probe *> probes) {
    probes_ = std::move(probes);
  }
  // Writes the budget into the loaded program; "" or why not.
  std::string use_maps(MapAccess &maps);
  // Takes the entries of the generation retired a window ago, and retires
  // the current one; `last` (the programs are detached): takes all.
  void scan(MapAccess &maps, uint64_t now_ns, bool last = false);

  void start();
  void collect(std::vector<Event> *out) { worker_.collect(out); }
  // The last scan, after the hooks are detached.
  void stop();

  bool take(const Event &event, LineOutput &out) override;

 private:
  const Probe *probe_of(uint8_t slot) const;
  void pin(const FloodBegins &begins, LineOutput &out);
  void write(const FloodSummary &summary, LineOutput &out);

  // The trees kept for the summaries to come, by pid (see kPinNs).
  static constexpr size_t kMaxPins = PIDTREE_FLOOD_PROCESSES;
  struct Pinned {
    Ancestry tree;
    std::string username;
    uint64_t ts_boot_ns = 0;
  };
  std::unordered_map<uint32_t, Pinned> pins_;
  std::deque<std::pair<uint32_t, uint64_t>> pin_order_;  // (pid, ts), oldest

  uint64_t budget_;
  std::vector<const Probe *> probes_;
  MapAccess *maps_ = nullptr;
  pidtree_flood_control control_{};
  UntrackedCounter<FloodUntracked> untracked_{"flood_counters",
                                              PIDTREE_FLOOD_UNTRACKED};
  ProbeWorker worker_;
};

}  // namespace pidtree
