/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A socket as the probes see it, read from kernel memory at offsets taken
 * from the running kernel's BTF (src/kernel/btf.cpp), never from the
 * headers BCC compiles against.
 */

#define PIDTREE_IPPROTO_TCP 6
#define PIDTREE_IPPROTO_UDP 17

struct pidtree_sock_state {
  const u8 *sk;
  int oldstate;
  int newstate;
  u16 family;
  u16 protocol;
  u16 sport; /* the local port, host order (skc_num); 0 when not bound */
  u16 dport; /* host order */
  u8 saddr[16]; /* network order; IPv4 uses the first 4 bytes */
  u8 daddr[16];
};

#if PIDTREE_SOCK_FROM_BTF
/* Family, ports and addresses of `sk`; 0, or -1 when it cannot be read or
 * is not IPv4 or IPv6. The protocol is read by the caller, which often
 * needs nothing else. */
static __always_inline int pidtree_read_sock(const u8 *sk,
                                             struct pidtree_sock_state *s) {
  /* The IPv4 fields in one copy; an aligned buffer, as the verifier wants
   * stack reads aligned (the offsets are aligned to their sizes). */
  u64 head[PIDTREE_SKC_HEAD / 8];
  if (bpf_probe_read_kernel(head, sizeof(head), sk))
    return -1;
  const u8 *h = (const u8 *)head;
  s->sk = sk;
  s->family = *(const u16 *)(h + PIDTREE_SKC_FAMILY);
  s->dport = bpf_ntohs(*(const u16 *)(h + PIDTREE_SKC_DPORT));
  s->sport = *(const u16 *)(h + PIDTREE_SKC_NUM);
  if (s->family == PIDTREE_AF_INET) {
    *(u32 *)s->daddr = *(const u32 *)(h + PIDTREE_SKC_DADDR);
    *(u32 *)s->saddr = *(const u32 *)(h + PIDTREE_SKC_RCV_SADDR);
    return 0;
  }
  if (s->family == PIDTREE_AF_INET6 &&
      !bpf_probe_read_kernel(s->daddr, 16, sk + PIDTREE_SKC_V6_DADDR) &&
      !bpf_probe_read_kernel(s->saddr, 16, sk + PIDTREE_SKC_V6_RCV_SADDR))
    return 0;
  return -1;
}

static __always_inline u16 pidtree_sock_protocol(const u8 *sk) {
  u16 protocol = 0;
  bpf_probe_read_kernel(&protocol, sizeof(protocol), sk + PIDTREE_SK_PROTOCOL);
  return protocol;
}
#endif

#if PIDTREE_NETNS_FROM_BTF
/* The inode of the socket's network namespace (sk->skc_net->ns.inum). */
static __always_inline u32 pidtree_sock_netns(const void *sk) {
  const u8 *net = 0;
  u32 inum = 0;
  if (bpf_probe_read_kernel(&net, sizeof(net),
                            (const u8 *)sk + PIDTREE_SKC_NET) ||
      !net ||
      bpf_probe_read_kernel(&inum, sizeof(inum), net + PIDTREE_NET_NS_INUM))
    return 0;
  return inum;
}
#endif
