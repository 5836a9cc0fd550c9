/* SPDX-License-Identifier: Apache-2.0 */
/*
 * udp_session's sends, kprobe backend: kprobes on udp_sendmsg() and
 * udpv6_sendmsg(), which see every send, with an address or on a
 * connected socket (and each message of sendmmsg), as it is attempted.
 * udpv6_sendmsg() hands IPv4-mapped destinations to udp_sendmsg(): those
 * are counted by the IPv6 probe only. The socket and the msghdr are read
 * at offsets from the kernel's BTF.
 */
#include <uapi/linux/ptrace.h>

/* udp_sendmsg(struct sock *sk, struct msghdr *msg, size_t len) */
static __always_inline int udp_session_kprobe(struct pt_regs *ctx,
                                              const int v6) {
  const u8 *sk = (const u8 *)PT_REGS_PARM1(ctx);
  const u8 *msg = (const u8 *)PT_REGS_PARM2(ctx);
  struct pidtree_sock_state s = {};
  if (pidtree_read_sock(sk, &s) || (!v6 && s.family != PIDTREE_AF_INET))
    return 0;
  const u8 *name = 0;
  if (bpf_probe_read_kernel(&name, sizeof(name), msg + PIDTREE_MSGHDR_NAME))
    return 0;
  u8 daddr[16] = {};
  u16 dport = 0, family = s.family;
  if (name) {
    /* struct sockaddr_in / sockaddr_in6: family, port, address */
    u16 fam = 0, port = 0;
    if (bpf_probe_read_kernel(&fam, 2, name) ||
        bpf_probe_read_kernel(&port, 2, name + 2))
      return 0;
    dport = bpf_ntohs(port);
    if (fam == PIDTREE_AF_INET) {
      if (bpf_probe_read_kernel(daddr + (v6 ? 12 : 0), 4, name + 4))
        return 0;
      if (v6) { /* an IPv4 address on an IPv6 socket: as mapped */
        daddr[10] = 0xff;
        daddr[11] = 0xff;
      }
    } else if (fam == PIDTREE_AF_INET6 && v6) {
      if (bpf_probe_read_kernel(daddr, 16, name + 8))
        return 0;
    } else {
      return 0;
    }
  } else {
    u8 state = 0;
    if (bpf_probe_read_kernel(&state, 1, sk + PIDTREE_SKC_STATE) ||
        state != PIDTREE_TCP_ESTABLISHED)
      return 0; /* no destination: the send fails */
    __builtin_memcpy(daddr, s.daddr, 16);
    dport = s.dport;
  }
  udp_session_count(ctx, (u64)sk, s.family, s.saddr, s.sport, family, daddr,
                    dport);
  return 0;
}

int udp_session_kprobe4(struct pt_regs *ctx) {
  return udp_session_kprobe(ctx, 0);
}

int udp_session_kprobe6(struct pt_regs *ctx) {
  return udp_session_kprobe(ctx, 1);
}
