#include "kernel/hook.h"

namespace pidtree {

namespace {

const char *attach_name(bpf_attach_type type) {
  switch (type) {
    case BPF_CGROUP_INET4_BIND:
      return "inet4_bind";
    case BPF_CGROUP_INET6_BIND:
      return "inet6_bind";
    case BPF_CGROUP_INET4_POST_BIND:
      return "inet4_post_bind";
    case BPF_CGROUP_INET6_POST_BIND:
      return "inet6_post_bind";
    case BPF_CGROUP_SOCK_OPS:
      return "sock_ops";
    case BPF_CGROUP_INET4_CONNECT:
      return "inet4_connect";
    case BPF_CGROUP_INET6_CONNECT:
      return "inet6_connect";
    case BPF_CGROUP_UDP4_SENDMSG:
      return "udp4_sendmsg";
    case BPF_CGROUP_UDP6_SENDMSG:
      return "udp6_sendmsg";
    case BPF_CGROUP_INET_SOCK_RELEASE:
      return "inet_sock_release";
    default:
      return "attach type";
  }
}

}  // namespace

std::string describe(const Hook &hook) {
  switch (hook.type) {
    case HookType::kTracepoint:
      return "tracepoint " + hook.target;
    case HookType::kRawTracepoint:
      return "raw tracepoint " + hook.target;
    case HookType::kKprobe:
      return "kprobe " + hook.target;
    case HookType::kKretprobe:
      return "kretprobe " + hook.target;
    case HookType::kCgroup:
      return std::string("cgroup ") + attach_name(hook.attach_type) + " (" +
             hook.function + ")";
  }
  return hook.function;
}

Hook tracepoint_hook(const std::string &category, const std::string &name) {
  Hook h;
  h.type = HookType::kTracepoint;
  h.target = category + ":" + name;
  h.function = "tracepoint__" + category + "__" + name;
  return h;
}

Hook cgroup_hook(const std::string &function, bpf_prog_type prog_type,
                 bpf_attach_type attach_type) {
  Hook h;
  h.type = HookType::kCgroup;
  h.function = function;
  h.prog_type = prog_type;
  h.attach_type = attach_type;
  return h;
}

}  // namespace pidtree
