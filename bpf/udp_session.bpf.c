/* SPDX-License-Identifier: Apache-2.0 */
/*
 * udp_session: every UDP socket's sends, counted here per destination
 * (bpf/event.h), never a perf event per message. User space hears of a
 * session when it starts (to pin the sender's tree at that moment) and when
 * the socket is released; it finds idle sessions and makes the interim
 * reports itself, from the map.
 *
 * Which hook counts which send (PIDTREE_UDP_*):
 * - cgroup UDP4/UDP6_SENDMSG: a send with an address (sendto, sendmsg with
 *   msg_name, each message of sendmmsg), before the send. With
 *   PIDTREE_UDP_SEND_LENGTH a connected socket's sends are left to:
 * - sock:sock_send_length (Linux 6.3+, raw): every sendmsg of every socket,
 *   after the send; it counts the successful sends of connected UDP
 *   sockets, to the connected destination (from the socket, at offsets from
 *   the kernel's BTF). It runs for every TCP send too, and leaves at the
 *   protocol check.
 * - kprobe backend (PIDTREE_UDP_KPROBE): udp_sendmsg/udpv6_sendmsg entry
 *   instead of both (bpf/udp_session_kprobe.bpf.c).
 * - cgroup INET_SOCK_RELEASE: the socket's close (or its process's exit)
 *   ends the session; it leaves at once for sockets that are not UDP.
 *
 * Every cgroup program here returns 1 on every path: a 0 would refuse the
 * application's send.
 */

#define PIDTREE_TCP_ESTABLISHED 1
/* Makes `x` opaque to the compiler from here on. */
#define PIDTREE_KEEP(x) asm volatile("" : "+r"(x))

BPF_F_TABLE("hash", u64, struct pidtree_udp_session, udp_sessions,
            PIDTREE_UDP_MAX_SESSIONS, BPF_F_NO_PREALLOC);
/* A session record is too big for the BPF stack: its workspace. */
BPF_PERCPU_ARRAY(udp_scratch, struct pidtree_udp_event, 1);
BPF_PERCPU_ARRAY(udp_counters, u64, PIDTREE_UDP_COUNTERS);

static __always_inline int udp_same_addr(const u8 *a, const u8 *b,
                                         u16 family) {
  u64 a0 = 0, a1 = 0, b0 = 0, b1 = 0;
  __builtin_memcpy(&a0, a, 8);
  __builtin_memcpy(&b0, b, 8);
  if (family == PIDTREE_AF_INET)
    return (u32)a0 == (u32)b0;
  __builtin_memcpy(&a1, a + 8, 8);
  __builtin_memcpy(&b1, b + 8, 8);
  return a0 == b0 && a1 == b1;
}

/* The session of socket `key`, made (and its start sent) at its first
 * send to daddr:dport; 0 when the map has no room (the send is then
 * counted as untracked), when the sender's container is not one that
 * container_labels reports (no session at all), or when the sender is over
 * its flood budget (the send is counted in its summary, and the socket's
 * next send tries again). */
static __always_inline struct pidtree_udp_session *udp_session_of(
    void *ctx, u64 key, u16 family, u16 sport, const u8 *saddr, u64 now,
    u16 dfamily, const u8 *daddr, u16 dport) {
  struct pidtree_udp_session *s = udp_sessions.lookup(&key);
  if (s)
    return s;
  if (pidtree_container_dropped(pidtree_settings(PIDTREE_SLOT_UDP_SESSION),
                                PIDTREE_SLOT_UDP_SESSION) ||
      pidtree_flooded(ctx, PIDTREE_SLOT_UDP_SESSION, dfamily, 0, daddr, dport, 0))
    return 0;
  u32 zero = 0;
  struct pidtree_udp_event *ev = udp_scratch.lookup(&zero);
  if (!ev)
    return 0;
  struct pidtree_udp_session *n = &ev->session;
  __builtin_memset(n, 0, sizeof(*n));
  u64 pid_tgid = bpf_get_current_pid_tgid();
  n->first_ns = now;
  n->last_ns = now;
  n->pid = pid_tgid >> 32;
  n->tid = (u32)pid_tgid;
  n->uid = (u32)bpf_get_current_uid_gid();
  n->loginuid = pidtree_loginuid();
  n->cgroup_id = bpf_get_current_cgroup_id();
  n->family = family;
  n->sport = sport;
  __builtin_memcpy(n->saddr, saddr, 16);
  bpf_get_current_comm(&n->comm, sizeof(n->comm));
  if (udp_sessions.insert(&key, n) != 0) {
    /* Another CPU made it first, or the map is full. */
    s = udp_sessions.lookup(&key);
    if (!s) {
      int idx = PIDTREE_UDP_UNTRACKED;
      u64 *untracked = udp_counters.lookup(&idx);
      if (untracked)
        *untracked += 1;
    }
    return s;
  }
  ev->ts_boot_ns = now;
  ev->kind = PIDTREE_EVENT_UDP_SESSION;
  ev->pid = n->pid;
  ev->what = PIDTREE_UDP_START;
  ev->tid = n->tid;
  ev->key = key;
  ev->uid = n->uid;
  ev->loginuid = n->loginuid;
  ev->cgroup_id = n->cgroup_id;
  __builtin_memcpy(ev->comm, n->comm, sizeof(ev->comm));
  events.perf_submit(ctx, ev, offsetof(struct pidtree_udp_event, session));
  return udp_sessions.lookup(&key);
}

/* Counts one send of socket `key` to daddr:dport. An IPv4-mapped IPv6
 * destination is counted (and filtered) as the IPv4 address it is, as the
 * kernel sends it: the same on every backend and hook. */
static __always_inline void udp_session_count(void *ctx, u64 key,
                                              u16 sock_family, const u8 *saddr,
                                              u16 sport, u16 family,
                                              const u8 *dest, u16 dport) {
  u8 daddr[16] = {};
  __builtin_memcpy(daddr, dest, 16);
  if (family == PIDTREE_AF_INET6) {
    u64 head = 0;
    u32 mark = 0;
    __builtin_memcpy(&head, daddr, 8);
    __builtin_memcpy(&mark, daddr + 8, 4);
    if (head == 0 && mark == bpf_htonl(0xffff)) {
      family = PIDTREE_AF_INET;
      __builtin_memcpy(daddr, dest + 12, 4);
      __builtin_memset(daddr + 4, 0, 12);
    }
  }
  if (pidtree_filtered(PIDTREE_SLOT_UDP_SESSION, family, daddr, dport))
    return;
  u64 now = bpf_ktime_get_boot_ns();
  struct pidtree_udp_session *s =
      udp_session_of(ctx, key, sock_family, sport, saddr, now, family, daddr,
                     dport);
  if (!s)
    return;
  s->last_ns = now;
  u64 known = s->ndests;
  for (int i = 0; i < PIDTREE_UDP_MAX_DESTS; i++) {
    if (i >= known)
      break;
    struct pidtree_udp_dest *d = &s->dests[i];
    if (d->port == dport && d->family == family &&
        udp_same_addr(d->addr, daddr, family)) {
      __sync_fetch_and_add(&d->msg_count, 1);
      d->last_ns = now;
      return;
    }
  }
  /* A new destination: claim a slot. Two CPUs that claim one for the same
   * destination at once make two entries; user space adds them up. */
  u64 slot = __sync_fetch_and_add(&s->ndests, 1);
  if (slot >= PIDTREE_UDP_MAX_DESTS) {
    __sync_fetch_and_add(&s->other_msgs, 1);
    return;
  }
  struct pidtree_udp_dest *d = &s->dests[slot & (PIDTREE_UDP_MAX_DESTS - 1)];
  __builtin_memcpy(d->addr, daddr, 16);
  d->port = dport;
  d->family = family;
  d->first_ns = now;
  d->last_ns = now;
  __sync_fetch_and_add(&d->msg_count, 1);
}

#if !PIDTREE_UDP_KPROBE
/* `v6` is a constant: the verifier refuses the other family's fields. */
static __always_inline int udp_session_sendmsg(struct bpf_sock_addr *ctx,
                                               const int v6) {
  if (ctx->protocol != PIDTREE_IPPROTO_UDP)
    return 1;
  struct bpf_sock *sk = ctx->sk;
  if (!sk)
    return 1;
#if PIDTREE_UDP_SEND_LENGTH
  if (sk->state == PIDTREE_TCP_ESTABLISHED)
    return 1; /* counted by sock_send_length, after the send */
#endif
  u32 daddr[4] = {};
  u32 saddr[4] = {};
  u16 family;
  /* The IPv4 hook also runs for an IPv6 socket's sends to IPv4-mapped
   * destinations (udpv6_sendmsg() hands them to udp_sendmsg()): the
   * session is the socket's, in its own family. Both source fields are
   * read before the branch and kept apart (PIDTREE_KEEP): a load after
   * it would come from a computed address in the socket, which the
   * verifier refuses. */
  u16 sock_family = sk->family;
  u32 src4 = sk->src_ip4;
  u32 src6[4] = {sk->src_ip6[0], sk->src_ip6[1], sk->src_ip6[2],
                 sk->src_ip6[3]};
  PIDTREE_KEEP(src4);
  PIDTREE_KEEP(src6[0]);
  if (sock_family == PIDTREE_AF_INET) {
    saddr[0] = src4;
  } else {
    saddr[0] = src6[0];
    saddr[1] = src6[1];
    saddr[2] = src6[2];
    saddr[3] = src6[3];
  }
  if (!v6) {
    family = PIDTREE_AF_INET;
    daddr[0] = ctx->user_ip4;
  } else {
    family = PIDTREE_AF_INET6;
    daddr[0] = ctx->user_ip6[0];
    daddr[1] = ctx->user_ip6[1];
    daddr[2] = ctx->user_ip6[2];
    daddr[3] = ctx->user_ip6[3];
  }
  udp_session_count(ctx, (u64)sk, sock_family, (const u8 *)saddr,
                    (u16)sk->src_port, family, (const u8 *)daddr,
                    bpf_ntohs(ctx->user_port));
  return 1;
}

int udp_session_sendmsg4(struct bpf_sock_addr *ctx) {
  return udp_session_sendmsg(ctx, 0);
}

int udp_session_sendmsg6(struct bpf_sock_addr *ctx) {
  return udp_session_sendmsg(ctx, 1);
}
#endif

#if PIDTREE_UDP_SEND_LENGTH
/* TP_PROTO(struct sock *sk, int ret, int flags) */
RAW_TRACEPOINT_PROBE(sock_send_length) {
  /* Cheapest first: the result (no read), the state (one read: an
   * unconnected UDP socket, whose sends the cgroup hooks count, leaves
   * here), then the protocol (TCP leaves here). */
  if ((int)ctx->args[1] < 0)
    return 0;
  const u8 *sk = (const u8 *)ctx->args[0];
  u8 state = 0;
  if (bpf_probe_read_kernel(&state, 1, sk + PIDTREE_SKC_STATE) ||
      state != PIDTREE_TCP_ESTABLISHED ||
      pidtree_sock_protocol(sk) != PIDTREE_IPPROTO_UDP)
    return 0;
  struct pidtree_sock_state s = {};
  if (pidtree_read_sock(sk, &s))
    return 0;
  udp_session_count(ctx, (u64)sk, s.family, s.saddr, s.sport, s.family,
                    s.daddr, s.dport);
  return 0;
}
#endif

int udp_session_release(struct bpf_sock *ctx) {
  if (ctx->protocol != PIDTREE_IPPROTO_UDP)
    return 1;
  u64 key = (u64)ctx;
  struct pidtree_udp_session *s = udp_sessions.lookup(&key);
  if (!s)
    return 1;
  u32 zero = 0;
  struct pidtree_udp_event *ev = udp_scratch.lookup(&zero);
  if (ev) {
    /* The record up to its last claimed destination: most sessions have
     * one, and the rest of the slots would only fill the perf buffer. */
    u64 n = s->ndests;
    if (n > PIDTREE_UDP_MAX_DESTS)
      n = PIDTREE_UDP_MAX_DESTS;
    u32 body = offsetof(struct pidtree_udp_session, dests) +
               (u32)n * sizeof(struct pidtree_udp_dest);
    if (body > sizeof(*s))
      body = sizeof(*s);
    bpf_probe_read_kernel(&ev->session, body, s);
    u64 pid_tgid = bpf_get_current_pid_tgid();
    ev->ts_boot_ns = bpf_ktime_get_boot_ns();
    ev->kind = PIDTREE_EVENT_UDP_SESSION;
    ev->pid = pid_tgid >> 32;
    ev->what = PIDTREE_UDP_END;
    ev->tid = (u32)pid_tgid;
    ev->key = key;
    ev->uid = (u32)bpf_get_current_uid_gid();
    ev->loginuid = pidtree_loginuid();
    ev->cgroup_id = bpf_get_current_cgroup_id();
    bpf_get_current_comm(&ev->comm, sizeof(ev->comm));
    events.perf_submit(ctx, ev,
                       offsetof(struct pidtree_udp_event, session) + body);
  }
  udp_sessions.delete(&key);
  return 1;
}
