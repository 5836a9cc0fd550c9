// The enabled probes as one program: built, checked, their maps written
// and rewritten on reload, and their user-space work run, each step the
// same for every probe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config_reload.h"
#include "enrich/enricher.h"
#include "kernel/filter_maps.h"
#include "pipeline/stage.h"
#include "probes/flood_watch.h"
#include "probes/probe.h"

namespace pidtree {

class ProbeSet : public Reconfigurable {
 public:
  // `flood_budget`: events a process may report per second before the
  // rest are summarised (probes/flood_watch.h); 0: no limit.
  explicit ProbeSet(std::vector<std::unique_ptr<Probe>> probes,
                    uint64_t flood_budget = 0);
  ~ProbeSet() override;

  // "" or the first probe's reason why this kernel cannot run it.
  std::string check(const ProgramShape &shape) const;
  // The probes' notes on what this kernel keeps from them.
  std::vector<std::string> blind_spots(const ProgramShape &shape) const;
  ProgramBuilder build(ProgramShape shape) const;
  // "tcp_connect (TCP connects with the tracepoint backend), ..." for the
  // ready line.
  std::string describe() const;
  bool has(const std::string &name) const;
  // Some probe reads sockets whatever the backend (Probe::reads_sockets).
  bool reads_sockets() const;

  // (name, slot) of every probe, for the enrich stage.
  std::vector<std::pair<std::string, uint8_t>> slots() const;
  // The enrich stage: its container_labels set each probe's kernel flag,
  // and a reload configures it too.
  void set_enricher(Enricher *enricher) { enricher_ = enricher; }

  // Every probe's filters and settings into the loaded program's maps.
  std::string write_maps(MapAccess &maps);
  // A reload (config_reload.h): every probe takes its new section, or, if
  // any refuses or the set of probes differs, none does.
  std::string reconfigure(const FileConfig &file, size_t *rules,
                          std::vector<std::string> *notes) override;
  // A probe section added or removed, and each probe's own reasons.
  std::vector<std::string> restart_reasons(
      const FileConfig &file) const override;

  // The probes that are also steps of the pipeline (pipeline/stage.h),
  // and the flood watch.
  std::vector<EventStage *> stages();

  void start();
  void collect(std::vector<Event> *out);
  void stop();

 private:
  std::string write_all();
  // Each probe section the file removes or adds, as a phrase.
  std::vector<std::string> sections_changed(const FileConfig &file) const;

  std::vector<std::unique_ptr<Probe>> probes_;
  std::vector<std::unique_ptr<FilterMaps>> maps_;  // one per probe
  MapAccess *access_ = nullptr;
  Enricher *enricher_ = nullptr;
  FloodWatch flood_;
};

}  // namespace pidtree
