/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every probe shares: the perf buffer, the probes' settings and the
 * in-kernel filters (the local address for net_listen, the destination for
 * the others). The rules are data in maps, filled (and reloaded) by user
 * space; only the map sizes are templated (PIDTREE_* defines), so a reload
 * never recompiles.
 */

BPF_PERF_OUTPUT(events);

BPF_ARRAY(probe_settings, struct pidtree_probe_settings, PIDTREE_FILTER_SLOTS);

/* Which of its two rule sets is live, per probe (see bpf/event.h). */
BPF_ARRAY(filter_active, u32, PIDTREE_FILTER_SLOTS);
/* Dropped ports, a bitmap per probe and set (see bpf/event.h). */
BPF_ARRAY(port_filter_bits, u64, PIDTREE_FILTER_SLOTS * 2 * PIDTREE_PORT_WORDS);
BPF_LPM_TRIE(filter_v4, struct pidtree_lpm_v4_key, struct pidtree_net_rule,
             PIDTREE_MAX_NET_RULES);
BPF_LPM_TRIE(filter_v6, struct pidtree_lpm_v6_key, struct pidtree_net_rule,
             PIDTREE_MAX_NET_RULES);
/* Room for every rule of both sets, IPv4 and IPv6; entries (8 KiB each)
 * are allocated only for the rules that list ports. */
BPF_F_TABLE("hash", u32, struct pidtree_port_bitmap, filter_rule_ports,
            2 * PIDTREE_MAX_NET_RULES, BPF_F_NO_PREALLOC);

/* container_labels (bpf/event.h): which probes report each cgroup. */
BPF_F_TABLE("hash", u64, u32, container_reports, PIDTREE_MAX_CGROUPS,
            BPF_F_NO_PREALLOC);

/* The calling task's audit login uid (task_struct.loginuid, at an offset
 * from the kernel's BTF), or PIDTREE_NO_LOGINUID. */
static __always_inline u32 pidtree_loginuid(void) {
  u32 loginuid = PIDTREE_NO_LOGINUID;
#if PIDTREE_LOGINUID_FROM_BTF
  char *task = (char *)bpf_get_current_task();
  if (bpf_probe_read_kernel(&loginuid, sizeof(loginuid),
                            task + PIDTREE_TASK_LOGINUID) != 0)
    loginuid = PIDTREE_NO_LOGINUID;
#endif
  return loginuid;
}

/* The calling task's identity and the time, into any event that has the
 * usual fields. */
#define PIDTREE_FILL_TASK(ev, event_kind)                    \
  do {                                                       \
    u64 pidtree_pid_tgid = bpf_get_current_pid_tgid();       \
    (ev)->kind = (event_kind);                               \
    (ev)->ts_boot_ns = bpf_ktime_get_boot_ns();              \
    (ev)->pid = pidtree_pid_tgid >> 32;                      \
    (ev)->tid = (u32)pidtree_pid_tgid;                       \
    (ev)->uid = (u32)bpf_get_current_uid_gid();              \
    (ev)->loginuid = pidtree_loginuid();                     \
    (ev)->cgroup_id = bpf_get_current_cgroup_id();           \
    bpf_get_current_comm(&(ev)->comm, sizeof((ev)->comm));   \
  } while (0)

/* Returns 1 when probe `slot` has container_labels and the calling task's
 * cgroup is known not to match them. A cgroup user space has not decided
 * yet is passed on (it decides, and drops the event itself). */
static __always_inline int pidtree_cgroup_dropped(
    struct pidtree_probe_settings *st, u32 slot, u64 cgroup) {
  if (!st || !(st->flags & PIDTREE_PROBE_CONTAINER_FILTER))
    return 0;
  u32 *reports = container_reports.lookup(&cgroup);
  return reports && !((*reports >> slot) & 1);
}

static __always_inline int pidtree_container_dropped(
    struct pidtree_probe_settings *st, u32 slot) {
  if (!st || !(st->flags & PIDTREE_PROBE_CONTAINER_FILTER))
    return 0;
  return pidtree_cgroup_dropped(st, slot, bpf_get_current_cgroup_id());
}

static __always_inline struct pidtree_probe_settings *pidtree_settings(
    u32 slot) {
  int key = (int)slot;
  return probe_settings.lookup(&key);
}

static __always_inline u32 pidtree_active_set(u32 slot) {
  int key = (int)slot;
  u32 *set = filter_active.lookup(&key);
  return set ? (*set & 1) : 0;
}

static __always_inline int pidtree_port_filtered(u32 slot, u32 set,
                                                 u16 port) {
  int key = (int)(((slot * 2 + set) << 10) + (port >> 6));
  u64 *word = port_filter_bits.lookup(&key);
  return word && ((*word >> (port & 63)) & 1);
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

static __always_inline int pidtree_v4_filtered(u32 slot, u32 set,
                                               const u8 *addr, u16 port) {
  struct pidtree_lpm_v4_key key = {
      .prefixlen = 16 + 32, .set = (u8)set, .probe = (u8)slot};
  __builtin_memcpy(key.addr, addr, 4);
  return pidtree_rule_filters(filter_v4.lookup(&key), port);
}

/* IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are judged by their IPv4
 * part, so a v6 socket cannot slip past the v4 rules. */
static __always_inline int pidtree_v6_filtered(u32 slot, u32 set,
                                               const u8 *addr, u16 port) {
  u64 high = 0;
  u32 mid = 0;
  __builtin_memcpy(&high, addr, 8);
  __builtin_memcpy(&mid, addr + 8, 4);
  if (high == 0 && mid == bpf_htonl(0x0000ffff))
    return pidtree_v4_filtered(slot, set, addr + 12, port);
  struct pidtree_lpm_v6_key key = {
      .prefixlen = 16 + 128, .set = (u8)set, .probe = (u8)slot};
  __builtin_memcpy(key.addr, addr, 16);
  return pidtree_rule_filters(filter_v6.lookup(&key), port);
}

/* Returns 1 when probe `slot` must not report addr:port: the port is
 * dropped, or the most specific network rule that holds the address drops
 * it. */
static __always_inline int pidtree_filtered(u32 slot, u16 family,
                                            const u8 *addr, u16 port) {
  u32 set = pidtree_active_set(slot);
  if (pidtree_port_filtered(slot, set, port))
    return 1;
  if (family == PIDTREE_AF_INET)
    return pidtree_v4_filtered(slot, set, addr, port);
  return pidtree_v6_filtered(slot, set, addr, port);
}

/* Floods (bpf/event.h): each process's budget, and what it reports beyond
 * it, counted per destination. */
BPF_ARRAY(flood_control, struct pidtree_flood_control, 1);
BPF_TABLE("lru_hash", u32, struct pidtree_flood_budget, flood_budgets,
          PIDTREE_FLOOD_PROCESSES);
BPF_F_TABLE("hash", struct pidtree_flood_key, struct pidtree_flood_entry,
            flood_summaries, PIDTREE_FLOOD_ENTRIES, BPF_F_NO_PREALLOC);
BPF_PERCPU_ARRAY(flood_counters, u64, PIDTREE_FLOOD_COUNTERS);

/* Whether process `pid`'s event may go (PIDTREE_FLOOD_SEND) or is over
 * its budget of the current window, and is to be counted instead; `*c` is
 * then the flood settings. A process's first event, and the first of each
 * window, always may go; CPUs that start a window at once may let a few
 * more through, never fewer. */
#define PIDTREE_FLOOD_SEND 0
#define PIDTREE_FLOOD_OVER 1
#define PIDTREE_FLOOD_BEGINS 2 /* over, the first time in this window */

static __always_inline int pidtree_flood_check(
    u32 pid, u64 now, struct pidtree_flood_control **c) {
  int zero = 0;
  *c = flood_control.lookup(&zero);
  if (!*c || (*c)->budget == 0)
    return PIDTREE_FLOOD_SEND;
  struct pidtree_flood_budget *b = flood_budgets.lookup(&pid);
  if (!b) {
    struct pidtree_flood_budget fresh = {.window_start_ns = now, .used = 1};
    flood_budgets.update(&pid, &fresh);
    return PIDTREE_FLOOD_SEND;
  }
  if (now - b->window_start_ns >= (*c)->window_ns) {
    b->window_start_ns = now;
    b->used = 1;
    return PIDTREE_FLOOD_SEND;
  }
  u64 used = __sync_fetch_and_add(&b->used, 1);
  if (used < (*c)->budget)
    return PIDTREE_FLOOD_SEND;
  return used == (*c)->budget ? PIDTREE_FLOOD_BEGINS : PIDTREE_FLOOD_OVER;
}

/* The marker of a process that goes over its budget (bpf/event.h). */
static __always_inline void pidtree_flood_begins(void *ctx, u32 pid, u32 uid,
                                                 u32 loginuid, u64 now) {
  struct pidtree_flood_event ev = {};
  ev.ts_boot_ns = now;
  ev.kind = PIDTREE_EVENT_FLOOD;
  ev.pid = pid;
  ev.uid = uid;
  ev.loginuid = loginuid;
  events.perf_submit(ctx, &ev, sizeof(ev));
}

/* Counts one event of `pid` over its budget in its summary entry for
 * (probe `slot`, destination); `task` holds the ids of the task and the
 * time, for an entry made now. A full map: counted as untracked. */
static __always_inline void pidtree_flood_count(
    struct pidtree_flood_control *c, u32 slot, u32 pid, u16 family,
    u8 protocol, const u8 *addr, u16 port,
    const struct pidtree_flood_entry *task) {
  struct pidtree_flood_key key = {};
  key.gen = c->gen;
  key.pid = pid;
  key.slot = (u8)slot;
  key.protocol = protocol;
  key.family = family;
  key.port = port;
  __builtin_memcpy(key.addr, addr, 16);
  struct pidtree_flood_entry *e = flood_summaries.lookup(&key);
  if (!e) {
    /* Another CPU may make it at once: then this insert fails, and the
     * lookup finds that one. */
    flood_summaries.insert(&key, (struct pidtree_flood_entry *)task);
    e = flood_summaries.lookup(&key);
    if (!e) {
      int idx = PIDTREE_FLOOD_UNTRACKED;
      u64 *untracked = flood_counters.lookup(&idx);
      if (untracked)
        *untracked += 1;
      return;
    }
  }
  __sync_fetch_and_add(&e->count, 1);
  if (task->last_ns > e->last_ns)
    e->last_ns = task->last_ns;
}

/* 1 when the calling task's process is over its budget: the event to
 * (probe `slot`, destination) has been counted in its summary instead, and
 * must not be sent. Called once an event is known to be reported (after
 * the filters), so only reported events use the budget. */
static __always_inline int pidtree_flooded(void *ctx, u32 slot, u16 family,
                                           u8 protocol, const u8 *addr,
                                           u16 port, u32 netns) {
  u64 pid_tgid = bpf_get_current_pid_tgid();
  u64 now = bpf_ktime_get_boot_ns();
  struct pidtree_flood_control *c = 0;
  int state = pidtree_flood_check(pid_tgid >> 32, now, &c);
  if (state == PIDTREE_FLOOD_SEND || !c)
    return 0;
  struct pidtree_flood_entry task = {};
  task.first_ns = now;
  task.last_ns = now;
  task.tid = (u32)pid_tgid;
  task.uid = (u32)bpf_get_current_uid_gid();
  task.loginuid = pidtree_loginuid();
  task.netns = netns;
  task.cgroup_id = bpf_get_current_cgroup_id();
  bpf_get_current_comm(&task.comm, sizeof(task.comm));
  if (state == PIDTREE_FLOOD_BEGINS)
    pidtree_flood_begins(ctx, pid_tgid >> 32, task.uid, task.loginuid, now);
  pidtree_flood_count(c, slot, pid_tgid >> 32, family, protocol, addr, port,
                      &task);
  return 1;
}
