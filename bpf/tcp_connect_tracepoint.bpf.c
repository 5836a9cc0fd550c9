/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tracepoint backend: sock:inet_sock_set_state fires on the transition to
 * TCP_SYN_SENT inside tcp_v4_connect()/tcp_v6_connect(), in the context of
 * the connecting task. The kernel assigns an ephemeral source port only
 * after this transition, so sport is 0 unless the socket was bound first.
 * Its argument layout is read from tracefs by BCC, so no kernel struct
 * offsets are involved.
 */

#define PIDTREE_TCP_SYN_SENT 2
#define PIDTREE_IPPROTO_TCP 6

TRACEPOINT_PROBE(sock, inet_sock_set_state) {
  if (args->newstate != PIDTREE_TCP_SYN_SENT ||
      args->protocol != PIDTREE_IPPROTO_TCP)
    return 0;
  struct pidtree_connect_event ev = {};
  ev.family = args->family;
  ev.dport = args->dport;
  ev.sport = args->sport;
  /* Copied through a helper: a plain memcpy lets the compiler read the
   * filter keys straight from ctx at an offset, which the verifier refuses. */
  if (ev.family == PIDTREE_AF_INET) {
    bpf_probe_read_kernel(ev.daddr, 4, args->daddr);
    bpf_probe_read_kernel(ev.saddr, 4, args->saddr);
  } else if (ev.family == PIDTREE_AF_INET6) {
    bpf_probe_read_kernel(ev.daddr, 16, args->daddr_v6);
    bpf_probe_read_kernel(ev.saddr, 16, args->saddr_v6);
  } else {
    return 0;
  }
  pidtree_submit(args, &ev);
  return 0;
}
