#include "probes/probe_set.h"

namespace pidtree {

ProbeSet::ProbeSet(std::vector<std::unique_ptr<Probe>> probes,
                   uint64_t flood_budget)
    : probes_(std::move(probes)), flood_(flood_budget) {
  std::vector<const Probe *> all;
  for (const auto &p : probes_)
    all.push_back(p.get());
  flood_.set_probes(std::move(all));
}

ProbeSet::~ProbeSet() { stop(); }

std::string ProbeSet::check(const ProgramShape &shape) const {
  for (const auto &p : probes_) {
    std::string why = p->check(shape);
    if (!why.empty())
      return why;
  }
  return "";
}

std::vector<std::string> ProbeSet::blind_spots(
    const ProgramShape &shape) const {
  std::vector<std::string> out;
  for (const auto &p : probes_) {
    std::string note = p->blind_spot(shape);
    if (!note.empty())
      out.push_back(std::move(note));
  }
  return out;
}

ProgramBuilder ProbeSet::build(ProgramShape shape) const {
  ProgramBuilder program(std::move(shape));
  for (const auto &p : probes_)
    p->build(&program);
  return program;
}

std::string ProbeSet::describe() const {
  std::string out;
  for (const auto &p : probes_)
    out += (out.empty() ? "" : ", ") + p->description();
  return out;
}

bool ProbeSet::has(const std::string &name) const {
  for (const auto &p : probes_)
    if (name == p->name())
      return true;
  return false;
}

bool ProbeSet::reads_sockets() const {
  for (const auto &p : probes_)
    if (p->reads_sockets())
      return true;
  return false;
}

std::string ProbeSet::write_maps(MapAccess &maps) {
  access_ = &maps;
  maps_.clear();
  for (const auto &p : probes_) {
    maps_.push_back(std::make_unique<FilterMaps>(maps, p->slot()));
    p->use_maps(maps);
  }
  std::string err = flood_.use_maps(maps);
  return err.empty() ? write_all() : err;
}

std::string ProbeSet::write_all() {
  for (size_t i = 0; i < probes_.size(); ++i) {
    const Probe &p = *probes_[i];
    std::string err = maps_[i]->apply(p.filters());
    if (!err.empty())
      return std::string(p.name()) + ": " + err;
    int key = p.slot();
    pidtree_probe_settings settings = p.settings();
    if (enricher_ && enricher_->filters(p.slot()))
      settings.flags |= PIDTREE_PROBE_CONTAINER_FILTER;
    if (!access_->update("probe_settings", &key, &settings))
      return std::string(p.name()) +
             ": cannot write the BPF map probe_settings";
  }
  return "";
}

std::vector<std::string> ProbeSet::sections_changed(
    const FileConfig &file) const {
  std::vector<std::string> out;
  for (const auto &p : probes_)
    if (!file.section(p->name()).present)
      out.push_back(std::string("the file no longer has a ") + p->name() +
                    " section");
  for (const auto &[name, section] : file.sections)
    if (section.present && !has(name))
      out.push_back("the file adds a " + name + " section");
  return out;
}

std::vector<std::string> ProbeSet::restart_reasons(
    const FileConfig &file) const {
  std::vector<std::string> out = sections_changed(file);
  for (const auto &p : probes_)
    if (file.section(p->name()).present)
      for (auto &why : p->restart_reasons(file))
        out.push_back(std::move(why));
  return out;
}

std::string ProbeSet::reconfigure(const FileConfig &file, size_t *rules,
                                  std::vector<std::string> *notes) {
  // The same probes, or nothing changes: adding or removing one means
  // compiling and attaching another program.
  std::vector<std::string> changed = sections_changed(file);
  if (!changed.empty())
    return changed.front() +
           "; the set of probes changes only at a restart (with -w, "
           "pidtree-bcc restarts itself)";
  for (const auto &p : probes_) {
    std::string why = p->validate(file);
    if (!why.empty())
      return why;
  }
  if (enricher_) {
    // Plugins start (host files are read) before anything changes.
    try {
      enricher_->configure(file, slots(), notes);
    } catch (const std::exception &e) {
      return e.what();
    }
  }
  for (const auto &p : probes_)
    p->reconfigure(file, notes);
  *rules = 0;
  for (const auto &p : probes_)
    *rules += p->filters().rules.size();
  return access_ ? write_all() : "";
}

std::vector<std::pair<std::string, uint8_t>> ProbeSet::slots() const {
  std::vector<std::pair<std::string, uint8_t>> out;
  for (const auto &p : probes_)
    out.emplace_back(p->name(), p->slot());
  return out;
}

std::vector<EventStage *> ProbeSet::stages() {
  std::vector<EventStage *> out;
  for (const auto &p : probes_)
    if (auto *stage = dynamic_cast<EventStage *>(p.get()))
      out.push_back(stage);
  out.push_back(&flood_);
  return out;
}

void ProbeSet::start() {
  for (const auto &p : probes_)
    p->start();
  flood_.start();
}

void ProbeSet::collect(std::vector<Event> *out) {
  for (const auto &p : probes_)
    p->collect(out);
  flood_.collect(out);
}

void ProbeSet::stop() {
  for (const auto &p : probes_)
    p->stop();
  flood_.stop();
}

}  // namespace pidtree
