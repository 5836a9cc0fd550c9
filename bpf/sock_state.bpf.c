/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sock:inet_sock_set_state, shared by the probes that watch TCP state
 * changes (tcp_connect's tracepoint backend: SYN_SENT; net_listen: LISTEN).
 * It fires on every TCP state change on the host, so there is one program
 * for all of them: it leaves at once unless the new state is one that some
 * enabled probe wants (PIDTREE_SOCK_STATES, a bit per state), reads the
 * socket once, and calls each probe's handler (PIDTREE_SOCK_STATE_HANDLERS,
 * both generated from the enabled probes).
 *
 * With the kernel's BTF (PIDTREE_SOCK_FROM_BTF) it is a raw tracepoint:
 * the kernel builds no trace record for it, and it reads the few socket
 * fields it needs itself (bpf/sock.bpf.h). Without, it reads the classic
 * tracepoint's record, whose layout BCC takes from tracefs.
 */

#if PIDTREE_SOCK_FROM_BTF
/* TP_PROTO(const struct sock *sk, const int oldstate, const int newstate) */
RAW_TRACEPOINT_PROBE(inet_sock_set_state) {
  int newstate = (int)ctx->args[2];
  if ((unsigned)newstate >= 32 || !((1u << newstate) & PIDTREE_SOCK_STATES))
    return 0;
  const u8 *sk = (const u8 *)ctx->args[0];
  if (pidtree_sock_protocol(sk) != PIDTREE_IPPROTO_TCP)
    return 0;
  struct pidtree_sock_state s = {};
  if (pidtree_read_sock(sk, &s))
    return 0;
  s.protocol = PIDTREE_IPPROTO_TCP;
  s.oldstate = (int)ctx->args[1];
  s.newstate = newstate;
  PIDTREE_SOCK_STATE_HANDLERS(ctx, &s);
  return 0;
}
#else
TRACEPOINT_PROBE(sock, inet_sock_set_state) {
  int newstate = args->newstate;
  if ((unsigned)newstate >= 32 || !((1u << newstate) & PIDTREE_SOCK_STATES) ||
      args->protocol != PIDTREE_IPPROTO_TCP)
    return 0;
  struct pidtree_sock_state s = {};
  s.sk = (const u8 *)args->skaddr;
  s.oldstate = args->oldstate;
  s.newstate = newstate;
  s.protocol = PIDTREE_IPPROTO_TCP;
  s.family = args->family;
  s.dport = args->dport;
  s.sport = args->sport;
  /* Copied through a helper: a plain memcpy lets the compiler read the
   * filter keys straight from ctx at an offset, which the verifier refuses. */
  if (s.family == PIDTREE_AF_INET) {
    bpf_probe_read_kernel(s.daddr, 4, args->daddr);
    bpf_probe_read_kernel(s.saddr, 4, args->saddr);
  } else if (s.family == PIDTREE_AF_INET6) {
    bpf_probe_read_kernel(s.daddr, 16, args->daddr_v6);
    bpf_probe_read_kernel(s.saddr, 16, args->saddr_v6);
  } else {
    return 0;
  }
  PIDTREE_SOCK_STATE_HANDLERS(args, &s);
  return 0;
}
#endif
