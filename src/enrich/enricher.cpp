#include "enrich/enricher.h"

#include <stdexcept>

#include "enrich/labels.h"

namespace pidtree {

void Enricher::configure(
    const FileConfig &file,
    const std::vector<std::pair<std::string, uint8_t>> &probes,
    std::vector<std::string> *notes) {
  std::array<Plan, PIDTREE_FILTER_SLOTS> plans;
  for (const auto &[name, slot] : probes) {
    if (slot >= plans.size())
      continue;
    const ProbeConfig &section = file.section(name);
    Plan &plan = plans[slot];
    plan.labels = section.container_labels;
    for (const PluginConfig &pc : section.plugins) {
      try {
        auto plugin = make_plugin(pc);
        if (plugin->login() != LoginFields::kNone)
          plan.login = plugin->login();
        plan.plugins.push_back(std::move(plugin));
      } catch (const std::exception &e) {
        std::string line = pc.where + ": " + e.what();
        if (!pc.unload_on_init_exception)
          throw std::runtime_error(line);
        notes->push_back(line + "; plugin unloaded (unload_on_init_exception)");
      }
    }
  }
  plans_ = std::move(plans);
  known_.clear();
  host_ = Known{};
  host_.reports = reports_of(nullptr);
  if (!containers_)
    for (const auto &plan : plans_)
      if (!plan.labels.empty()) {
        notes->push_back(
            "container_labels: no cgroup v2 tree to find containers in; "
            "the probes that have container_labels report nothing");
        break;
      }
  write_all_decisions();
}

void Enricher::use_maps(MapAccess *maps) {
  maps_ = maps;
  write_all_decisions();
}

bool Enricher::any_labels() const {
  for (const auto &plan : plans_)
    if (!plan.labels.empty())
      return true;
  return false;
}

uint32_t Enricher::reports_of(const Container *c) const {
  uint32_t reports = PIDTREE_CGROUP_DECIDED;
  for (size_t slot = 0; slot < plans_.size(); ++slot) {
    const Plan &plan = plans_[slot];
    if (plan.labels.empty() || (c && labels_match(plan.labels, c->labels)))
      reports |= 1u << slot;
  }
  return reports;
}

void Enricher::write_decision(uint64_t cgroup, uint32_t reports) {
  if (maps_ && any_labels())
    maps_->update("container_reports", &cgroup, &reports);
}

void Enricher::write_all_decisions() {
  if (!maps_ || !containers_ || !any_labels())
    return;
  for (const auto &[cgroup, container] : containers_->all())
    write_decision(cgroup, reports_of(container.get()));
}

const Enricher::Known &Enricher::known(const EventOrigin &origin) {
  if (!containers_)
    return host_;
  uint64_t cgroup = origin.cgroup_id;
  std::shared_ptr<const Container> c;
  if (cgroup == 0) {
    // No cgroup from the kernel (a snapshot): the process's, from /proc.
    c = containers_->lookup_pid(origin.pid);
    if (!c)
      return host_;
    cgroup = UINT64_MAX - origin.pid;  // not a cgroup id: a cache slot
  } else {
    c = containers_->lookup(cgroup);
  }
  auto it = known_.find(cgroup);
  if (it != known_.end() && it->second.container == c)
    return it->second;
  Known k;
  k.container = c;
  if (c)
    k.fields = container_fields(*c);
  k.reports = reports_of(c.get());
  const bool fresh = it == known_.end();
  if (fresh && origin.cgroup_id != 0)
    write_decision(cgroup, k.reports);
  if (known_.size() >= 65536)
    known_.clear();  // a bounded cache; rebuilt as events come
  return known_[cgroup] = std::move(k);
}

const Enrichment *Enricher::enrich(const EventOrigin &origin) {
  if (origin.slot >= plans_.size())
    return nullptr;
  const Plan &plan = plans_[origin.slot];
  if (!containers_) {
    if (!plan.labels.empty()) {
      ++dropped_;
      return nullptr;
    }
    current_.fields.clear();
  } else {
    const Known &k = known(origin);
    if (!((k.reports >> origin.slot) & 1)) {
      ++dropped_;
      return nullptr;
    }
    current_.fields = k.fields;
  }
  current_.login = plan.login;
  for (const auto &plugin : plan.plugins)
    plugin->add_fields(origin, &current_.fields);
  return &current_;
}

void Enricher::cgroup(const CgroupEvent &event) {
  if (!containers_)
    return;
  if (!event.made) {
    containers_->forget(event.id);
    known_.erase(event.id);
    if (maps_ && any_labels())
      maps_->erase("container_reports", &event.id);
    return;
  }
  auto c = containers_->learn(event.id, event.path);
  write_decision(event.id, reports_of(c.get()));
}

void Enricher::maintain(Clock::time_point now,
                        std::vector<std::string> *notes) {
  for (auto &plan : plans_)
    for (auto &plugin : plan.plugins)
      plugin->maintain(now, notes);
  if (!containers_)
    return;
  for (uint64_t gone : containers_->sweep(now)) {
    known_.erase(gone);
    if (maps_ && any_labels())
      maps_->erase("container_reports", &gone);
  }
}

}  // namespace pidtree
