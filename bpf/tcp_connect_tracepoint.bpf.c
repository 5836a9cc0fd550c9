/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp_connect, tracepoint backend: the transition to TCP_SYN_SENT inside
 * tcp_v4_connect()/tcp_v6_connect(), seen by the shared
 * sock:inet_sock_set_state program (bpf/sock_state.bpf.c) in the context
 * of the connecting task. The kernel assigns an ephemeral source port only
 * after this transition, so sport is 0 unless the socket was bound first.
 */

#define PIDTREE_TCP_SYN_SENT 2

static __always_inline void tcp_connect_on_sock_state(
    void *ctx, const struct pidtree_sock_state *s) {
  if (s->newstate != PIDTREE_TCP_SYN_SENT ||
      pidtree_filtered(PIDTREE_SLOT_TCP_CONNECT, s->family, s->daddr,
                       s->dport) ||
      pidtree_container_dropped(pidtree_settings(PIDTREE_SLOT_TCP_CONNECT),
                                PIDTREE_SLOT_TCP_CONNECT) ||
      pidtree_flooded(ctx, PIDTREE_SLOT_TCP_CONNECT, s->family, 0, s->daddr,
                      s->dport, 0))
    return;
  struct pidtree_connect_event ev = {};
  ev.family = s->family;
  ev.dport = s->dport;
  ev.sport = s->sport;
  __builtin_memcpy(ev.daddr, s->daddr, 16);
  __builtin_memcpy(ev.saddr, s->saddr, 16);
  PIDTREE_FILL_TASK(&ev, PIDTREE_EVENT_TCP_CONNECT);
  events.perf_submit(ctx, &ev, sizeof(ev));
}
