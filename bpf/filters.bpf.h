/* SPDX-License-Identifier: Apache-2.0 */
/*
 * In-kernel destination filtering shared by every probe backend. The rules
 * are data in maps, filled by user space; only the map sizes and whether a
 * check is compiled in at all are templated (PIDTREE_* defines).
 */

BPF_PERF_OUTPUT(events);

/* 1 = the destination port is dropped (exclude/include ports, global). */
BPF_ARRAY(port_filtered, u8, 65536);
BPF_LPM_TRIE(filter_v4, struct pidtree_lpm_v4_key, struct pidtree_net_rule,
             PIDTREE_MAX_NET_RULES);
BPF_LPM_TRIE(filter_v6, struct pidtree_lpm_v6_key, struct pidtree_net_rule,
             PIDTREE_MAX_NET_RULES);
BPF_HASH(filter_rule_ports, struct pidtree_rule_port_key, u8,
         PIDTREE_MAX_RULE_PORTS);

static __always_inline int pidtree_port_filtered(u16 port) {
#if PIDTREE_PORT_FILTER
  int key = port;
  u8 *dropped = port_filtered.lookup(&key);
  return dropped && *dropped;
#else
  return 0;
#endif
}

static __always_inline int pidtree_rule_filters(struct pidtree_net_rule *rule,
                                                u16 port) {
  if (!rule)
    return 0;
  if (rule->port_mode == PIDTREE_PORTS_ALL)
    return 1;
  struct pidtree_rule_port_key key = {.rule_id = rule->rule_id, .port = port};
  int listed = filter_rule_ports.lookup(&key) != 0;
  return rule->port_mode == PIDTREE_PORTS_EXCEPT ? !listed : listed;
}

static __always_inline int pidtree_v4_filtered(const u8 *addr, u16 port) {
  struct pidtree_lpm_v4_key key = {.prefixlen = 32};
  __builtin_memcpy(key.addr, addr, 4);
  return pidtree_rule_filters(filter_v4.lookup(&key), port);
}

/* IPv4-mapped IPv6 destinations (::ffff:a.b.c.d) are judged by their IPv4
 * part, so a v6 socket cannot slip past the v4 rules. */
static __always_inline int pidtree_v6_filtered(const u8 *addr, u16 port) {
  u64 high = 0;
  u32 mid = 0;
  __builtin_memcpy(&high, addr, 8);
  __builtin_memcpy(&mid, addr + 8, 4);
  if (high == 0 && mid == bpf_htonl(0x0000ffff))
    return pidtree_v4_filtered(addr + 12, port);
  struct pidtree_lpm_v6_key key = {.prefixlen = 128};
  __builtin_memcpy(key.addr, addr, 16);
  return pidtree_rule_filters(filter_v6.lookup(&key), port);
}

/* Returns 1 when the event must not reach user space. */
static __always_inline int pidtree_filtered(struct pidtree_connect_event *ev) {
  if (pidtree_port_filtered(ev->dport))
    return 1;
#if PIDTREE_NET_FILTER
  if (ev->family == PIDTREE_AF_INET)
    return pidtree_v4_filtered(ev->daddr, ev->dport);
  return pidtree_v6_filtered(ev->daddr, ev->dport);
#else
  return 0;
#endif
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
