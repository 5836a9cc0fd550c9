/* SPDX-License-Identifier: Apache-2.0 */
/*
 * net_listen: every TCP listen() and UDP bind() on the host, in every
 * network namespace, with the real local port.
 *
 * TCP (PIDTREE_LISTEN_TCP), by backend:
 * - tracepoint: the CLOSE -> LISTEN transition, seen by the shared
 *   sock:inet_sock_set_state program in the listener's context. On a
 *   socket that was bound first the port is known there and the event is
 *   sent at once. On an unbound one the kernel picks the port only after
 *   the transition; the event waits in listen_pending for the cgroup
 *   sock_ops program, which the same listen() calls right after
 *   (BPF_SOCK_OPS_TCP_LISTEN_CB) with the chosen port.
 * - kprobe: inet_listen() (bpf/net_listen_kprobe.bpf.c).
 * UDP (PIDTREE_LISTEN_UDP), both backends: the cgroup INET4/INET6_POST_BIND
 * programs, which run inside a successful bind() with the port it got. The
 * INET4/INET6_BIND programs, before it, mark binds to port 0 for
 * exclude_random_bind.
 *
 * Every cgroup program here returns 1 on every path: a 0 would refuse the
 * application's bind() or listen().
 */

/* Unbound listens waiting for their port, by socket address. A listen()
 * whose port search fails never completes its entry; LRU, so such leftovers
 * cannot fill the map. */
BPF_TABLE("lru_hash", u64, struct pidtree_listen_event, listen_pending, 1024);
/* UDP sockets in a bind() to port 0, by socket cookie (exclude_random_bind). */
BPF_TABLE("lru_hash", u64, u8, bind_to_port_zero, 4096);

/* Fills in the rest of `ev` (its address, port and protocol are set) and
 * sends it, unless a filter drops it. The cheap checks come first: most
 * binds and listens a filter drops never cost the reads of the task and
 * the namespace. `sk`: the socket, for its namespace. */
static __always_inline void net_listen_submit(void *ctx,
                                              struct pidtree_listen_event *ev,
                                              const void *sk) {
  if (pidtree_filtered(PIDTREE_SLOT_NET_LISTEN, ev->family, ev->laddr,
                       ev->port))
    return;
  ev->netns = pidtree_sock_netns(sk);
  struct pidtree_probe_settings *st = pidtree_settings(PIDTREE_SLOT_NET_LISTEN);
  if ((st && (st->flags & PIDTREE_LISTEN_SAME_NETNS) &&
       ev->netns != st->netns) ||
      pidtree_container_dropped(st, PIDTREE_SLOT_NET_LISTEN) ||
      pidtree_flooded(ctx, PIDTREE_SLOT_NET_LISTEN, ev->family, ev->protocol,
                      ev->laddr, ev->port, ev->netns))
    return;
  PIDTREE_FILL_TASK(ev, PIDTREE_EVENT_NET_LISTEN);
  events.perf_submit(ctx, ev, sizeof(*ev));
}

#if PIDTREE_LISTEN_TCP && !PIDTREE_LISTEN_KPROBE
#define PIDTREE_TCP_CLOSE 7
#define PIDTREE_TCP_LISTEN 10

static __always_inline void net_listen_on_sock_state(
    void *ctx, const struct pidtree_sock_state *s) {
  if (s->newstate != PIDTREE_TCP_LISTEN || s->oldstate != PIDTREE_TCP_CLOSE)
    return;
  struct pidtree_listen_event ev = {};
  ev.family = s->family;
  ev.port = s->sport;
  ev.protocol = PIDTREE_IPPROTO_TCP;
  __builtin_memcpy(ev.laddr, s->saddr, 16);
  if (ev.port) {
    net_listen_submit(ctx, &ev, s->sk);
    return;
  }
  /* Not bound: the port comes with the sock_ops callback. The task is
   * read here, in the listener's context (sock_ops programs cannot read it
   * on every kernel), and filtering waits for the port. */
  PIDTREE_FILL_TASK(&ev, PIDTREE_EVENT_NET_LISTEN);
  ev.netns = pidtree_sock_netns(s->sk);
  u64 key = (u64)s->sk;
  listen_pending.update(&key, &ev);
}

int net_listen_sock_ops(struct bpf_sock_ops *ctx) {
  if (ctx->op != BPF_SOCK_OPS_TCP_LISTEN_CB)
    return 1;
  u64 key = (u64)ctx->sk;
  struct pidtree_listen_event *pending = listen_pending.lookup(&key);
  if (!pending)
    return 1;
  struct pidtree_listen_event ev = *pending;
  listen_pending.delete(&key);
  ev.port = (u16)ctx->local_port;
  struct pidtree_probe_settings *st = pidtree_settings(PIDTREE_SLOT_NET_LISTEN);
  if (pidtree_filtered(PIDTREE_SLOT_NET_LISTEN, ev.family, ev.laddr,
                       ev.port) ||
      (st && (st->flags & PIDTREE_LISTEN_SAME_NETNS) &&
       ev.netns != st->netns) ||
      pidtree_cgroup_dropped(st, PIDTREE_SLOT_NET_LISTEN, ev.cgroup_id))
    return 1;
  /* The listener's budget, as of its listen() (this runs in its context
   * too, but its task was read there). */
  struct pidtree_flood_control *flood = 0;
  int state = pidtree_flood_check(ev.pid, bpf_ktime_get_boot_ns(), &flood);
  if (state == PIDTREE_FLOOD_SEND || !flood) {
    events.perf_submit(ctx, &ev, sizeof(ev));
    return 1;
  }
  if (state == PIDTREE_FLOOD_BEGINS)
    pidtree_flood_begins(ctx, ev.pid, ev.uid, ev.loginuid, ev.ts_boot_ns);
  struct pidtree_flood_entry task = {};
  task.first_ns = ev.ts_boot_ns;
  task.last_ns = ev.ts_boot_ns;
  task.tid = ev.tid;
  task.uid = ev.uid;
  task.loginuid = ev.loginuid;
  task.netns = ev.netns;
  task.cgroup_id = ev.cgroup_id;
  __builtin_memcpy(task.comm, ev.comm, sizeof(task.comm));
  pidtree_flood_count(flood, PIDTREE_SLOT_NET_LISTEN, ev.pid, ev.family,
                      ev.protocol, ev.laddr, ev.port, &task);
  return 1;
}
#endif

#if PIDTREE_LISTEN_UDP
static __always_inline int net_listen_before_bind(struct bpf_sock_addr *ctx) {
  struct pidtree_probe_settings *st = pidtree_settings(PIDTREE_SLOT_NET_LISTEN);
  if (!st || !(st->flags & PIDTREE_LISTEN_NO_RANDOM_BIND) ||
      ctx->protocol != PIDTREE_IPPROTO_UDP)
    return 1;
  /* Also cleared, so a mark left by a failed bind() cannot stay. */
  u64 cookie = bpf_get_socket_cookie(ctx);
  u8 one = 1;
  if (ctx->user_port == 0)
    bind_to_port_zero.update(&cookie, &one);
  else
    bind_to_port_zero.delete(&cookie);
  return 1;
}

int net_listen_bind4(struct bpf_sock_addr *ctx) {
  return net_listen_before_bind(ctx);
}

int net_listen_bind6(struct bpf_sock_addr *ctx) {
  return net_listen_before_bind(ctx);
}

/* `v6` is a constant: the verifier refuses src_ip6 in the IPv4 program
 * (and src_ip4 in the IPv6 one), so each reads only its own. */
static __always_inline int net_listen_post_bind(struct bpf_sock *ctx,
                                                const int v6) {
  if (ctx->protocol != PIDTREE_IPPROTO_UDP)
    return 1;
  struct pidtree_probe_settings *st = pidtree_settings(PIDTREE_SLOT_NET_LISTEN);
  if (st && (st->flags & PIDTREE_LISTEN_NO_RANDOM_BIND)) {
    u64 cookie = bpf_get_socket_cookie(ctx);
    if (bind_to_port_zero.lookup(&cookie)) {
      bind_to_port_zero.delete(&cookie);
      return 1;
    }
  }
  struct pidtree_listen_event ev = {};
  ev.family = ctx->family;
  ev.port = (u16)ctx->src_port;
  ev.protocol = PIDTREE_IPPROTO_UDP;
  if (!v6) {
    u32 addr = ctx->src_ip4;
    __builtin_memcpy(ev.laddr, &addr, 4);
  } else {
    u32 addr[4] = {ctx->src_ip6[0], ctx->src_ip6[1], ctx->src_ip6[2],
                   ctx->src_ip6[3]};
    __builtin_memcpy(ev.laddr, addr, 16);
  }
  /* The context is the socket itself. */
  net_listen_submit(ctx, &ev, (const void *)(u64)ctx);
  return 1;
}

int net_listen_post_bind4(struct bpf_sock *ctx) {
  return net_listen_post_bind(ctx, 0);
}

int net_listen_post_bind6(struct bpf_sock *ctx) {
  return net_listen_post_bind(ctx, 1);
}
#endif
