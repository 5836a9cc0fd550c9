// A probe: a set of BPF programs, maps and user-space parts managed as a
// unit (what Tetragon calls a sensor). Each probe has its folder under
// probes/ with its event (decoding and line), its configuration section
// and this class; its BPF sources are bpf/<probe>*.bpf.c. The shared
// machinery (program builder, loader, filter maps, pipeline, output)
// serves every probe through this interface.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/filters.h"
#include "event.h"
#include "kernel/filter_maps.h"
#include "kernel/kernel_features.h"
#include "kernel/program.h"
#include "probes/events.h"

namespace pidtree {

class Probe {
 public:
  Probe(const char *name, uint8_t slot) : name_(name), slot_(slot) {}
  virtual ~Probe() = default;

  const char *name() const { return name_; }
  // Its block of the shared filter maps (PIDTREE_SLOT_*).
  uint8_t slot() const { return slot_; }

  // What the ready line says it traces, e.g. "TCP connects".
  virtual std::string description() const = 0;
  // It reads sockets at offsets from the kernel's BTF whatever the backend
  // (ProgramShape::sock_offsets, socket_offsets).
  virtual bool reads_sockets() const { return false; }
  // What the kernel and its BTF must offer: "" or a one-line reason.
  virtual std::string check(const ProgramShape &shape) const = 0;
  // What it cannot see on this kernel, though it runs: "" or a note.
  virtual std::string blind_spot(const ProgramShape &shape) const {
    (void)shape;
    return "";
  }
  // Its defines, sources and hooks.
  virtual void build(ProgramBuilder *program) const = 0;

  // The rules its BPF side filters on, and its settings (bpf/event.h),
  // written to the maps at start and after every reload.
  const FilterConfig &filters() const { return filters_; }
  virtual pidtree_probe_settings settings() const { return {}; }

  // A reload, in two steps: validate() says whether the new file's
  // section (present) can be taken, changing nothing; reconfigure() then
  // takes it. Settings that need a restart are left as they are, with a
  // note.
  virtual std::string validate(const FileConfig &file) const = 0;
  virtual void reconfigure(const FileConfig &file,
                           std::vector<std::string> *notes) = 0;
  // What of the new section only a restart applies (hooks attached or
  // threads started at start), each a phrase; the same list reconfigure()
  // notes.
  virtual std::vector<std::string> restart_reasons(
      const FileConfig &file) const {
    (void)file;
    return {};
  }

  // The destination part of a summary line of its events from a process
  // over its flood budget (probes/flood_watch.h): by default
  // ,"family":...,"daddr":...,"port":N, as its own lines name them.
  virtual void append_flood_destination(std::string *out,
                                        const FloodSummary &summary) const {
    append_flood_address(out, "daddr", summary);
  }

  // The loaded program's maps, for work of its own (kept; also used from
  // a thread of the probe's).
  virtual void use_maps(MapAccess &maps) { (void)maps; }
  // Once everything is attached and the process table seeded: work of its
  // own (snapshots).
  virtual void start() {}
  // Events it made in user space since the last call.
  virtual void collect(std::vector<Event> *out) { (void)out; }
  // Before exit.
  virtual void stop() {}

 protected:
  FilterConfig filters_;

 private:
  const char *name_;
  uint8_t slot_;
};

}  // namespace pidtree
