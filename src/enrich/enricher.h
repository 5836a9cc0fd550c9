// The enrich stage: between ancestry and output, for every probe alike. It
// attributes each event to its container (from the cgroup the kernel
// reported), applies each probe's container_labels (dropping events of
// other containers and of the host) and runs the probe's plugins.
//
// container_labels is enforced in the kernel too: every cgroup it has
// decided is in the container_reports map (bpf/event.h) with a bit per
// probe that reports it; a cgroup made since (a new container) reaches
// user space with its first event, is decided here, and is in the map from
// then on.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "enrich/cgroup_event.h"
#include "enrich/containers.h"
#include "enrich/origin.h"
#include "enrich/plugins.h"
#include "event.h"
#include "kernel/filter_maps.h"
#include "output/json.h"

namespace pidtree {

class Enricher {
 public:
  using Clock = std::chrono::steady_clock;
  // `containers` may be null (no cgroup v2 tree to read): no attribution,
  // and a probe with container_labels reports nothing.
  explicit Enricher(ContainerRegistry *containers) : containers_(containers) {}

  // The probes' plugins and container_labels from their sections (probe
  // name, slot). Throws std::runtime_error ("FILE:LINE:COL: PATH: why")
  // when a plugin cannot start, unless its unload_on_init_exception (then
  // a note and the plugin is left out).
  void configure(const FileConfig &file,
                 const std::vector<std::pair<std::string, uint8_t>> &probes,
                 std::vector<std::string> *notes);
  // Whether probe `slot` filters by container_labels.
  bool filters(uint8_t slot) const {
    return slot < plans_.size() && !plans_[slot].labels.empty();
  }

  // The kernel's container_reports map: written with every decision (all
  // cgroups the tree has now at start and after each configure()).
  void use_maps(MapAccess *maps);

  // nullptr: the event is not reported (its container does not match the
  // probe's container_labels). Else what to add to its line, valid until
  // the next call.
  const Enrichment *enrich(const EventOrigin &origin);

  // A cgroup made (a container's is learnt, and decided for the kernel's
  // filter, before its tasks' events are handled) or removed (forgotten).
  void cgroup(const CgroupEvent &event);

  // Between events: forgets containers that are gone, notices changed
  // host files. Notes for stderr.
  void maintain(Clock::time_point now, std::vector<std::string> *notes);

  uint64_t dropped() const { return dropped_; }

 private:
  struct Plan {
    std::vector<std::unique_ptr<Plugin>> plugins;
    std::vector<LabelRule> labels;
    LoginFields login = LoginFields::kNone;
  };
  struct Known {
    std::shared_ptr<const Container> container;
    std::string fields;    // container_fields(), rendered once
    uint32_t reports = 0;  // probes that report it (a bit per slot)
  };
  const Known &known(const EventOrigin &origin);
  uint32_t reports_of(const Container *c) const;
  bool any_labels() const;
  void write_decision(uint64_t cgroup, uint32_t reports);
  void write_all_decisions();

  ContainerRegistry *containers_;
  MapAccess *maps_ = nullptr;
  std::array<Plan, PIDTREE_FILTER_SLOTS> plans_;
  std::unordered_map<uint64_t, Known> known_;
  Known host_;
  Enrichment current_;
  uint64_t dropped_ = 0;
};

}  // namespace pidtree
