// What the kernel charges for udp_session's hooks themselves, whatever the
// programs do: the hooks of its tracepoint backend (cgroup UDP4/UDP6_SENDMSG
// and INET_SOCK_RELEASE on the cgroup v2 root, the sock:sock_send_length
// raw tracepoint where the kernel has it) with programs that return at
// once. bench/run.py runs the udp phase's loads under it too, so the
// report can tell the hooks' floor from the cost of udp_session's own
// programs.
//
//   hook_floor     (root) attaches, says so on stderr, and holds until
//                  SIGINT or SIGTERM; exits 1 with the reason if it cannot.
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "kernel/bpf_program.h"
#include "kernel/hook.h"
#include "kernel/kernel_features.h"

namespace {

// Every program lets the operation through: 1 from the cgroup ones (a 0
// would refuse the send or the release), 0 from the tracepoint.
constexpr char kProgram[] = R"(
int floor_sendmsg4(struct bpf_sock_addr *ctx) { return 1; }
int floor_sendmsg6(struct bpf_sock_addr *ctx) { return 1; }
int floor_release(struct bpf_sock *ctx) { return 1; }
#if PIDTREE_FLOOR_SEND_LENGTH
RAW_TRACEPOINT_PROBE(sock_send_length) { return 0; }
#endif
)";

}  // namespace

int main() {
  using namespace pidtree;
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop, nullptr);

  const bool send_length =
      KernelFeatures().has_tracepoint("sock", "sock_send_length");
  std::string text = std::string("#define PIDTREE_FLOOR_SEND_LENGTH ") +
                     (send_length ? "1" : "0") + "\n" + kProgram;
  std::vector<Hook> hooks = {
      cgroup_hook("floor_sendmsg4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                  BPF_CGROUP_UDP4_SENDMSG),
      cgroup_hook("floor_sendmsg6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                  BPF_CGROUP_UDP6_SENDMSG),
      cgroup_hook("floor_release", BPF_PROG_TYPE_CGROUP_SOCK,
                  BPF_CGROUP_INET_SOCK_RELEASE)};
  if (send_length) {
    Hook h;
    h.type = HookType::kRawTracepoint;
    h.target = "sock_send_length";
    h.function = "raw_tracepoint__sock_send_length";
    hooks.push_back(h);
  }
  BpfProgram bpf;
  std::string err = bpf.compile(text);
  if (err.empty())
    err = bpf.attach(hooks);
  if (!err.empty()) {
    std::fprintf(stderr, "hook_floor: %s\n", err.c_str());
    return 1;
  }
  std::fprintf(stderr, "hook_floor: attached %zu no-op programs\n",
               hooks.size());
  int sig = 0;
  sigwait(&stop, &sig);
  bpf.detach();
  return 0;
}
