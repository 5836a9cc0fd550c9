/* SPDX-License-Identifier: Apache-2.0 */
/*
 * In-kernel destination filtering shared by every probe backend. The rules
 * are data in maps, filled (and reloaded) by user space; only the map sizes
 * are templated (PIDTREE_* defines), so a reload never recompiles.
 */

BPF_PERF_OUTPUT(events);

/* Which of the two rule sets is live (see bpf/event.h). */
BPF_ARRAY(filter_active, u32, 1);
/* 1 = the destination port is dropped; index: set << 16 | port. */
BPF_ARRAY(port_filtered, u8, 2 * 65536);
BPF_LPM_TRIE(filter_v4, struct pidtree_lpm_v4_key, struct pidtree_net_rule,
             PIDTREE_MAX_NET_RULES);
BPF_LPM_TRIE(filter_v6, struct pidtree_lpm_v6_key, struct pidtree_net_rule,
             PIDTREE_MAX_NET_RULES);
/* Room for every rule of both sets, IPv4 and IPv6; entries (8 KiB each)
 * are allocated only for the rules that list ports. */
BPF_F_TABLE("hash", u32, struct pidtree_port_bitmap, filter_rule_ports,
            2 * PIDTREE_MAX_NET_RULES, BPF_F_NO_PREALLOC);

static __always_inline u32 pidtree_active_set(void) {
  int zero = 0;
  u32 *set = filter_active.lookup(&zero);
  return set ? (*set & 1) : 0;
}

static __always_inline int pidtree_port_filtered(u32 set, u16 port) {
  int key = (int)(set << 16 | port);
  u8 *dropped = port_filtered.lookup(&key);
  return dropped && *dropped;
}

static __always_inline int pidtree_rule_filters(struct pidtree_net_rule *rule,
                                                u16 port) {
  if (!rule)
    return 0;
  if (rule->port_mode == PIDTREE_PORTS_ALL)
    return 1;
  u32 id = rule->rule_id;
  struct pidtree_port_bitmap *ports = filter_rule_ports.lookup(&id);
  u32 byte = port >> 3;
  /* The compiler knows a u16 needs no mask and drops it; the verifier may
   * not know (the kprobe backend's port comes through a byte swap), and
   * refuses an unbounded index. The empty asm hides what the compiler
   * knows, so the mask stays. */
  asm volatile("" : "+r"(byte));
  byte &= PIDTREE_PORT_BITMAP_BYTES - 1;
  int listed = ports && ((ports->bits[byte] >> (port & 7)) & 1);
  return rule->port_mode == PIDTREE_PORTS_EXCEPT ? !listed : listed;
}

static __always_inline int pidtree_v4_filtered(u32 set, const u8 *addr,
                                               u16 port) {
  struct pidtree_lpm_v4_key key = {.prefixlen = 8 + 32, .set = (u8)set};
  __builtin_memcpy(key.addr, addr, 4);
  return pidtree_rule_filters(filter_v4.lookup(&key), port);
}

/* IPv4-mapped IPv6 destinations (::ffff:a.b.c.d) are judged by their IPv4
 * part, so a v6 socket cannot slip past the v4 rules. */
static __always_inline int pidtree_v6_filtered(u32 set, const u8 *addr,
                                               u16 port) {
  u64 high = 0;
  u32 mid = 0;
  __builtin_memcpy(&high, addr, 8);
  __builtin_memcpy(&mid, addr + 8, 4);
  if (high == 0 && mid == bpf_htonl(0x0000ffff))
    return pidtree_v4_filtered(set, addr + 12, port);
  struct pidtree_lpm_v6_key key = {.prefixlen = 8 + 128, .set = (u8)set};
  __builtin_memcpy(key.addr, addr, 16);
  return pidtree_rule_filters(filter_v6.lookup(&key), port);
}

/* Returns 1 when the event must not reach user space: its port is dropped,
 * or the most specific network rule that holds its destination drops it. */
static __always_inline int pidtree_filtered(struct pidtree_connect_event *ev) {
  u32 set = pidtree_active_set();
  if (pidtree_port_filtered(set, ev->dport))
    return 1;
  if (ev->family == PIDTREE_AF_INET)
    return pidtree_v4_filtered(set, ev->daddr, ev->dport);
  return pidtree_v6_filtered(set, ev->daddr, ev->dport);
}

/* Fills the task identity and time, filters, and submits. */
static __always_inline void pidtree_submit(void *ctx,
                                           struct pidtree_connect_event *ev) {
  if (pidtree_filtered(ev))
    return;
  u64 pid_tgid = bpf_get_current_pid_tgid();
  ev->kind = PIDTREE_EVENT_TCP_CONNECT;
  ev->ts_boot_ns = bpf_ktime_get_boot_ns();
  ev->pid = pid_tgid >> 32;
  ev->tid = (u32)pid_tgid;
  ev->uid = (u32)bpf_get_current_uid_gid();
  bpf_get_current_comm(&ev->comm, sizeof(ev->comm));
  events.perf_submit(ctx, ev, sizeof(*ev));
}
