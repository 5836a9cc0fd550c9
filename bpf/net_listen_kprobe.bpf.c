/* SPDX-License-Identifier: Apache-2.0 */
/*
 * net_listen's TCP half, kprobe backend: kprobe + kretprobe on
 * inet_listen() (IPv4 and IPv6 stream sockets alike). The entry remembers
 * the socket per thread when it is not listening yet; the return reports
 * it once the kernel has chosen the port, and only when listen() succeeded.
 * The socket is read at offsets from the kernel's BTF (bpf/sock.bpf.h).
 */

#include <uapi/linux/ptrace.h>

#define PIDTREE_TCP_CLOSE 7

BPF_HASH(listening, u32, u64, 16384);

int net_listen_kprobe_entry(struct pt_regs *ctx) {
  /* inet_listen(struct socket *sock, int backlog): sock->sk */
  const u8 *sock = (const u8 *)PT_REGS_PARM1(ctx);
  u64 sk = 0;
  u8 state = 0;
  if (bpf_probe_read_kernel(&sk, sizeof(sk), sock + PIDTREE_SOCKET_SK) || !sk ||
      bpf_probe_read_kernel(&state, sizeof(state),
                            (const u8 *)sk + PIDTREE_SKC_STATE) ||
      state != PIDTREE_TCP_CLOSE)
    return 0; /* already listening: a new backlog, not a new listener */
  u32 tid = (u32)bpf_get_current_pid_tgid();
  listening.update(&tid, &sk);
  return 0;
}

int net_listen_kprobe_return(struct pt_regs *ctx) {
  u32 tid = (u32)bpf_get_current_pid_tgid();
  u64 *skp = listening.lookup(&tid);
  if (!skp)
    return 0;
  const u8 *sk = (const u8 *)*skp;
  listening.delete(&tid);
  if (PT_REGS_RC(ctx) != 0)
    return 0;
  struct pidtree_sock_state s = {};
  if (pidtree_read_sock(sk, &s))
    return 0;
  struct pidtree_listen_event ev = {};
  ev.family = s.family;
  ev.port = s.sport;
  ev.protocol = PIDTREE_IPPROTO_TCP;
  __builtin_memcpy(ev.laddr, s.saddr, 16);
  net_listen_submit(ctx, &ev, sk);
  return 0;
}
