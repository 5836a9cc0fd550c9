// Where a BPF program attaches. Attaching is keyed by the hook's type, one
// loader per type (kernel/bpf_program.cpp), so a probe that uses a known
// type of hook writes no attach code.
#pragma once

#include <linux/bpf.h>

#include <string>

namespace pidtree {

enum class HookType {
  kTracepoint,     // target "category:name"; BCC's TRACEPOINT_PROBE
  kRawTracepoint,  // target "name"; RAW_TRACEPOINT_PROBE
  kKprobe,         // target: a kernel function
  kKretprobe,
  kCgroup,  // the cgroup v2 root, through a BPF link (gone with the tracer)
};

struct Hook {
  HookType type = HookType::kTracepoint;
  std::string target;
  std::string function;  // the BPF function that runs there
  // kCgroup: the program's type and where on the cgroup it runs.
  bpf_prog_type prog_type = BPF_PROG_TYPE_UNSPEC;
  bpf_attach_type attach_type = BPF_CGROUP_INET_INGRESS;
};

// For errors and listings: "tracepoint sched:sched_process_exec",
// "cgroup inet4_post_bind (net_listen_post_bind4)".
std::string describe(const Hook &hook);

Hook tracepoint_hook(const std::string &category, const std::string &name);
Hook cgroup_hook(const std::string &function, bpf_prog_type prog_type,
                 bpf_attach_type attach_type);

}  // namespace pidtree
