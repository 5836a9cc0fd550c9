/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tracepoint backend: sock:inet_sock_set_state fires on the transition to
 * TCP_SYN_SENT inside tcp_v4_connect()/tcp_v6_connect(), in the context of
 * the connecting task. The kernel assigns an ephemeral source port only
 * after this transition, so sport is 0 unless the socket was bound first.
 *
 * It fires on every TCP state change on the host, so what one firing costs
 * matters. With the kernel's BTF (PIDTREE_SOCK_FROM_BTF), the program is a
 * raw tracepoint: the kernel builds no trace record for it, and it reads
 * the few socket fields it needs itself, at offsets from the running
 * kernel's BTF (src/btf.cpp). Without, it reads the classic tracepoint's
 * record, whose layout BCC takes from tracefs. Either way no offset comes
 * from the headers BCC compiles against.
 */

#define PIDTREE_TCP_SYN_SENT 2
#define PIDTREE_IPPROTO_TCP 6

#if PIDTREE_SOCK_FROM_BTF
/* TP_PROTO(const struct sock *sk, const int oldstate, const int newstate) */
RAW_TRACEPOINT_PROBE(inet_sock_set_state) {
  if ((int)ctx->args[2] != PIDTREE_TCP_SYN_SENT)
    return 0;
  const u8 *sk = (const u8 *)ctx->args[0];
  u16 protocol = 0;
  if (bpf_probe_read_kernel(&protocol, sizeof(protocol),
                            sk + PIDTREE_SK_PROTOCOL) ||
      protocol != PIDTREE_IPPROTO_TCP)
    return 0;
  /* The IPv4 fields in one copy; an aligned buffer, as the verifier wants
   * stack reads aligned (the offsets are aligned to their sizes). */
  u64 head[PIDTREE_SKC_HEAD / 8];
  if (bpf_probe_read_kernel(head, sizeof(head), sk))
    return 0;
  const u8 *h = (const u8 *)head;
  struct pidtree_connect_event ev = {};
  ev.family = *(const u16 *)(h + PIDTREE_SKC_FAMILY);
  ev.dport = bpf_ntohs(*(const u16 *)(h + PIDTREE_SKC_DPORT));
  ev.sport = *(const u16 *)(h + PIDTREE_SKC_NUM);
  if (ev.family == PIDTREE_AF_INET) {
    *(u32 *)ev.daddr = *(const u32 *)(h + PIDTREE_SKC_DADDR);
    *(u32 *)ev.saddr = *(const u32 *)(h + PIDTREE_SKC_RCV_SADDR);
  } else if (ev.family == PIDTREE_AF_INET6) {
    if (bpf_probe_read_kernel(ev.daddr, 16, sk + PIDTREE_SKC_V6_DADDR) ||
        bpf_probe_read_kernel(ev.saddr, 16, sk + PIDTREE_SKC_V6_RCV_SADDR))
      return 0;
  } else {
    return 0;
  }
  pidtree_submit(ctx, &ev);
  return 0;
}
#else
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
#endif
