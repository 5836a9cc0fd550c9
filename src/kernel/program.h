// The BPF program text: the sources under bpf/ (embedded at build time),
// assembled for one backend with the configuration's structure templated in.
// Only numbers derived from parsed options ever reach the text.
#pragma once

#include <optional>
#include <string>

#include "kernel/btf.h"
#include "config/filters.h"
#include "config/options.h"

namespace pidtree {

// Network rules per rule set that a reload may grow to without a restart
// (the LPM tries allocate on use, so room costs nothing until used).
inline constexpr unsigned kMaxRulesPerSet = 8192;

struct ProgramShape {
  Backend backend = Backend::kTracepoint;        // kKprobe or kTracepoint
  unsigned max_net_rules = 2 * kMaxRulesPerSet;  // both sets
  // Compile in the fork/exec/exit probes that feed the process table.
  bool process_events = false;
  // sched_process_exit has group_dead (Linux 6.16+): exits of the last
  // thread are told apart from the leader's.
  bool have_group_dead = false;
  // With process_events: read each exec's argv from the new program's
  // memory at these offsets (from the kernel's BTF); without, from
  // execve()'s arguments through syscall tracepoints.
  std::optional<ArgvOffsets> argv_offsets;
  // Tracepoint backend: read the socket at these offsets (from the kernel's
  // BTF) in a raw tracepoint; without, read the classic tracepoint's record.
  std::optional<SockOffsets> sock_offsets;

  // The connect probe is sock:inet_sock_set_state attached raw, reading
  // the socket at sock_offsets (bpf/tcp_connect_tracepoint.bpf.c).
  bool raw_connect_tracepoint() const {
    return backend == Backend::kTracepoint && sock_offsets.has_value();
  }
};

ProgramShape shape_for(Backend resolved, const FilterConfig &filters);
std::string build_program(const ProgramShape &shape);

}  // namespace pidtree
