// The BPF program text: the sources under bpf/ (embedded at build time),
// assembled from what the kernel offers (ProgramShape) and what each
// enabled probe asks for (ProgramBuilder), with the hooks to attach. Only
// numbers derived from parsed options ever reach the text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/options.h"
#include "event.h"
#include "kernel/btf.h"
#include "kernel/hook.h"

namespace pidtree {

// Network rules per rule set and probe that a reload may grow to without a
// restart (the LPM tries allocate on use, so room costs nothing until used).
inline constexpr unsigned kMaxRulesPerSet = 8192;

// What the running kernel gives every probe's program.
struct ProgramShape {
  Backend backend = Backend::kTracepoint;  // kKprobe or kTracepoint
  // Room in the filter tries: both rule sets of every probe.
  unsigned max_net_rules = PIDTREE_FILTER_SLOTS * 2 * kMaxRulesPerSet;
  // Compile in the fork/exec/exit probes that feed the process table.
  bool process_events = false;
  // sched_process_exit has group_dead (Linux 6.16+): exits of the last
  // thread are told apart from the leader's.
  bool have_group_dead = false;
  // The kernel has the sock:sock_send_length tracepoint (Linux 6.3+).
  bool have_sock_send_length = false;
  // With process_events: read each exec's argv from the new program's
  // memory at these offsets (from the kernel's BTF); without, from
  // execve()'s arguments through syscall tracepoints.
  std::optional<ArgvOffsets> argv_offsets;
  // Read sockets at these offsets (from the kernel's BTF); without, the
  // shared sock:inet_sock_set_state program reads the classic
  // tracepoint's record instead of attaching raw.
  std::optional<SockOffsets> sock_offsets;
  // A socket's network namespace and state, and what inet_listen() and
  // udp_sendmsg() are given (from the kernel's BTF; net_listen and
  // udp_session need them).
  std::optional<SocketOffsets> socket_offsets;
  // Every event's and process event's login uid is read at this offset of
  // task_struct (from the kernel's BTF); without, the process table reads
  // /proc/PID/loginuid instead.
  std::optional<uint32_t> task_loginuid;
};

// Collects one program: the kernel's defines, each probe's defines,
// sources and hooks, and the handlers of the shared TCP state-change hook.
class ProgramBuilder {
 public:
  explicit ProgramBuilder(ProgramShape shape) : shape_(std::move(shape)) {}
  const ProgramShape &shape() const { return shape_; }

  // #define PIDTREE_<name> <value>
  void define(const std::string &name, uint64_t value);
  // A file under bpf/ (embedded), pasted once, after the shared headers
  // and in the order asked for.
  void source(const std::string &file);
  void hook(Hook hook);
  // The shared sock:inet_sock_set_state program (bpf/sock_state.bpf.c)
  // calls `handler(ctx, state)` when the new state is one of `states`.
  void on_sock_state(const std::string &handler, std::vector<int> states);

  // The whole program text.
  std::string text() const;
  // Everything to attach, in order: the process events first (the table
  // must not miss a fork that precedes an event), then the probes' hooks,
  // then the shared state-change hook.
  std::vector<Hook> hooks() const;
  // The shared state-change hook is attached raw (with sock_offsets).
  bool raw_sock_state() const { return shape_.sock_offsets.has_value(); }

 private:
  ProgramShape shape_;
  std::vector<std::pair<std::string, uint64_t>> defines_;
  std::vector<std::string> sources_;
  std::vector<Hook> hooks_;
  std::vector<std::string> sock_state_handlers_;
  uint32_t sock_states_ = 0;
};

// The text of a file under bpf/, or nullptr.
const char *embedded_source(const std::string &file);

}  // namespace pidtree
