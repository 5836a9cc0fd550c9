/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp_connect, kprobe backend: kprobe + kretprobe on tcp_v4_connect()/tcp_v6_connect().
 * The entry probe remembers the socket per thread; the return probe reports
 * it once the kernel has chosen the source address and port, and only when
 * the call succeeded (a connect refused before any packet left, such as an
 * unroutable destination, is not reported by this backend).
 */
#include <net/sock.h>

BPF_HASH(connecting, u32, struct sock *, 16384);

static __always_inline int pidtree_entry(struct sock *sk) {
  u32 tid = (u32)bpf_get_current_pid_tgid();
  connecting.update(&tid, &sk);
  return 0;
}

int pidtree_v4_entry(struct pt_regs *ctx, struct sock *sk) {
  u16 family = 0;
  bpf_probe_read_kernel(&family, sizeof(family), &sk->__sk_common.skc_family);
  /* tcp_v6_connect() calls tcp_v4_connect() for v4-mapped destinations;
   * the v6 probes report those. */
  if (family != PIDTREE_AF_INET)
    return 0;
  return pidtree_entry(sk);
}

int pidtree_v6_entry(struct pt_regs *ctx, struct sock *sk) {
  return pidtree_entry(sk);
}

int pidtree_return(struct pt_regs *ctx) {
  u32 tid = (u32)bpf_get_current_pid_tgid();
  struct sock **skp = connecting.lookup(&tid);
  if (!skp)
    return 0;
  struct sock *sk = *skp;
  connecting.delete(&tid);
  if (PT_REGS_RC(ctx) != 0)
    return 0;

  struct sock_common common = {};
  bpf_probe_read_kernel(&common, sizeof(common), &sk->__sk_common);
  struct pidtree_connect_event ev = {};
  ev.family = common.skc_family;
  ev.dport = bpf_ntohs(common.skc_dport);
  ev.sport = common.skc_num;
  if (ev.family == PIDTREE_AF_INET) {
    __builtin_memcpy(ev.daddr, &common.skc_daddr, 4);
    __builtin_memcpy(ev.saddr, &common.skc_rcv_saddr, 4);
  } else if (ev.family == PIDTREE_AF_INET6) {
    __builtin_memcpy(ev.daddr, &common.skc_v6_daddr, 16);
    __builtin_memcpy(ev.saddr, &common.skc_v6_rcv_saddr, 16);
  } else {
    return 0;
  }
  if (pidtree_filtered(PIDTREE_SLOT_TCP_CONNECT, ev.family, ev.daddr,
                       ev.dport) ||
      pidtree_container_dropped(pidtree_settings(PIDTREE_SLOT_TCP_CONNECT),
                                PIDTREE_SLOT_TCP_CONNECT) ||
      pidtree_flooded(ctx, PIDTREE_SLOT_TCP_CONNECT, ev.family, 0, ev.daddr,
                      ev.dport, 0))
    return 0;
  PIDTREE_FILL_TASK(&ev, PIDTREE_EVENT_TCP_CONNECT);
  events.perf_submit(ctx, &ev, sizeof(ev));
  return 0;
}
