// The BPF program text: the sources under bpf/ (embedded at build time),
// assembled for one backend with the configuration's structure templated in.
// Only numbers derived from parsed options ever reach the text.
#pragma once

#include <string>

#include "pidtree/filters.h"
#include "pidtree/options.h"

namespace pidtree {

struct ProgramShape {
  Backend backend = Backend::kTracepoint;  // kKprobe or kTracepoint
  bool net_filter = true;    // compile the network filter lookups in
  bool port_filter = false;  // compile the port filter lookup in
  unsigned max_net_rules = 1024;
  unsigned max_rule_ports = 1024;
  // Compile in the fork/exec/exit probes that feed the process table.
  bool process_events = false;
  // sched_process_exit has group_dead (Linux 6.16+): exits of the last
  // thread are told apart from the leader's.
  bool have_group_dead = false;
};

ProgramShape shape_for(Backend resolved, const FilterConfig &filters);
std::string build_program(const ProgramShape &shape);

}  // namespace pidtree
