/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one definition of everything that crosses the kernel/user boundary:
 * the perf-buffer events and the map layouts. Included both by the BPF
 * program (compiled at run time by BCC, where this file is pasted into the
 * program text) and by user space, so the layouts cannot drift.
 */
#ifndef PIDTREE_EVENT_H
#define PIDTREE_EVENT_H

#include <linux/types.h>

#define PIDTREE_COMM_LEN 16

/* Event kinds; user space rejects anything else. */
#define PIDTREE_EVENT_TCP_CONNECT 1
#define PIDTREE_EVENT_PROC_FORK 2 /* a new process (not a thread) */
#define PIDTREE_EVENT_PROC_EXEC 3
#define PIDTREE_EVENT_PROC_EXIT 4 /* the whole thread group is gone */
#define PIDTREE_EVENT_PROC_UID 5  /* a set*uid() call succeeded */
#define PIDTREE_EVENT_NET_LISTEN 6
#define PIDTREE_EVENT_UDP_SESSION 7 /* a session's start, interim or end */
#define PIDTREE_EVENT_CGROUP 8 /* a cgroup v2 directory made or removed */
#define PIDTREE_EVENT_FLOOD 9  /* a process went over its flood budget */

/* The audit login uid (task_struct.loginuid) of a task that has none: not
 * set by a login (pam_loginuid), or not read (no CONFIG_AUDIT, no BTF). */
#define PIDTREE_NO_LOGINUID 0xffffffffu

/* Every event starts with this, so user space can order and dispatch. */
struct pidtree_event_header {
  __u64 ts_boot_ns;
  __u32 kind;
  __u32 pid;
};

/* One outbound TCP connect, as seen in the connecting task's context. */
struct pidtree_connect_event {
  __u64 ts_boot_ns; /* bpf_ktime_get_boot_ns() at the connect */
  __u32 kind;       /* PIDTREE_EVENT_* */
  __u32 pid;        /* thread group id (the process) */
  __u32 tid;        /* the thread that called connect */
  __u32 uid;        /* real uid of the calling task */
  __u16 family;     /* AF_INET (2) or AF_INET6 (10) */
  __u16 dport;      /* host byte order */
  __u16 sport;      /* host byte order; 0 when not yet assigned */
  __u16 reserved;
  __u8 saddr[16]; /* network order; IPv4 uses the first 4 bytes */
  __u8 daddr[16];
  char comm[PIDTREE_COMM_LEN];
  __u32 loginuid; /* PIDTREE_NO_LOGINUID when none (or not read) */
  __u32 reserved2;
  __u64 cgroup_id; /* bpf_get_current_cgroup_id(): the task's cgroup v2 */
};

/* One TCP listen() or UDP bind(), in the context of the task that made
 * it, with the port the kernel gave the socket (the real one, also for a
 * listen() on an unbound socket or a bind() to port 0). */
struct pidtree_listen_event {
  __u64 ts_boot_ns; /* at the listen or bind */
  __u32 kind;       /* PIDTREE_EVENT_NET_LISTEN */
  __u32 pid;
  __u32 tid;
  __u32 uid;
  __u32 netns;   /* inode of the socket's network namespace */
  __u16 family;  /* AF_INET (2) or AF_INET6 (10) */
  __u16 port;    /* host byte order */
  __u8 protocol; /* IPPROTO_TCP (6) or IPPROTO_UDP (17) */
  __u8 reserved[7];
  __u8 laddr[16]; /* network order; IPv4 uses the first 4 bytes */
  char comm[PIDTREE_COMM_LEN];
  __u32 loginuid;
  __u32 reserved2;
  __u64 cgroup_id;
};

/* udp_session: a UDP socket's sends, counted in the kernel per
 * destination in a map keyed by the socket's address (struct sock *), from
 * its first send to a destination that is not filtered until its release
 * or an idle time-out (found by user space, which also makes the interim
 * reports of a socket that keeps sending). Counts only grow; user space
 * reports the difference since a session's last line. */
#define PIDTREE_UDP_MAX_DESTS 16 /* a power of two */

struct pidtree_udp_dest {
  __u8 addr[16]; /* network order; IPv4 uses the first 4 bytes */
  __u16 port;    /* host byte order */
  __u16 family;  /* AF_INET or AF_INET6 */
  __u32 reserved;
  __u64 msg_count;
  __u64 first_ns; /* first message to it */
  __u64 last_ns;
};

/* 64-bit counters throughout: the kernel's atomic add that returns the old
 * value (claiming a slot) exists for 64-bit words only, and a busy socket
 * would wrap 32 bits within a day. */
struct pidtree_udp_session {
  __u64 first_ns;   /* the session's first send */
  __u64 last_ns;    /* its latest send */
  __u64 ndests;     /* destinations claimed; above PIDTREE_UDP_MAX_DESTS
                     * the messages go to other_msgs */
  __u64 other_msgs; /* to destinations beyond the bound */
  __u32 pid;        /* the first sender */
  __u32 tid;
  __u32 uid;
  __u16 family; /* the socket's */
  __u16 sport;  /* host byte order; 0 where not known */
  __u8 saddr[16];
  char comm[PIDTREE_COMM_LEN];
  __u64 cgroup_id; /* the first sender's */
  __u32 loginuid;
  __u32 reserved;
  struct pidtree_udp_dest dests[PIDTREE_UDP_MAX_DESTS];
};

#define PIDTREE_UDP_START 1 /* header only: pin the sender's tree */
#define PIDTREE_UDP_END 2   /* released: the whole record */

struct pidtree_udp_event {
  __u64 ts_boot_ns; /* START: the first send; END: the release */
  __u32 kind;       /* PIDTREE_EVENT_UDP_SESSION */
  __u32 pid;        /* START: the sender; END: the task that released it */
  __u32 what;       /* PIDTREE_UDP_* */
  __u32 tid;        /* of the same task */
  __u64 key;        /* the socket's address: the session's identity */
  __u32 uid;        /* of the same task */
  __u32 loginuid;   /* of the same task */
  char comm[PIDTREE_COMM_LEN];
  __u64 cgroup_id; /* of the same task */
  /* END only, and only up to its last claimed destination (the event is
   * that much shorter). */
  struct pidtree_udp_session session;
};

/* udp_session's counters (an array, one entry each, per CPU). */
#define PIDTREE_UDP_UNTRACKED 0 /* sends of sockets with no room in the map */
#define PIDTREE_UDP_COUNTERS 1

/* Fork, exit and uid-change events. */
#define PIDTREE_FORK_CLONE_PARENT 1 /* the child's parent is ppid's parent */

struct pidtree_proc_event {
  __u64 ts_boot_ns;
  __u32 kind; /* PIDTREE_EVENT_PROC_FORK, _EXIT or _UID */
  __u32 pid;  /* the process (thread group id) */
  __u32 ppid; /* FORK: the thread group that forked it */
  __u32 uid;  /* FORK (the forking process's), UID: real uid */
  __u32 flags;
  __u32 loginuid; /* FORK: the child's (inherited from its parent) */
};

/* argv is captured in the kernel at exec time, NUL separated and bounded:
 * PIDTREE_ARGS_SIZE bytes (and, when read at execve() entry, at most
 * PIDTREE_MAX_ARGS arguments). */
#define PIDTREE_ARGS_SIZE 8192 /* a power of two */
#define PIDTREE_MAX_ARGS 256
#define PIDTREE_EXEC_ARGS_CUT 1 /* argv was longer than what was kept */
#define PIDTREE_EXEC_NO_ARGV 2  /* no argv read: args holds the filename */

struct pidtree_exec_event {
  __u64 ts_boot_ns;
  __u32 kind; /* PIDTREE_EVENT_PROC_EXEC */
  __u32 pid;
  __u32 uid;
  __u32 flags;    /* PIDTREE_EXEC_* */
  __u32 args_len; /* bytes of args that were sent */
  __u32 loginuid;
  /* Twice the kept size: lets the kernel copy a string of up to
   * PIDTREE_ARGS_SIZE bytes at any offset below PIDTREE_ARGS_SIZE; only
   * header + args_len bytes are sent. */
  char args[2 * PIDTREE_ARGS_SIZE];
};

/* A cgroup v2 directory made or removed (cgroup:cgroup_mkdir/rmdir), so
 * user space knows a container's cgroup before any event of a task in it,
 * even one that is gone by the time that event is handled. */
#define PIDTREE_CGROUP_PATH 512 /* a power of two */

struct pidtree_cgroup_event {
  __u64 ts_boot_ns;
  __u32 kind; /* PIDTREE_EVENT_CGROUP */
  __u32 pid;  /* the task that made or removed it */
  __u64 id;   /* the cgroup's id: the inode of its directory */
  __u32 made; /* 1: made, 0: removed */
  __u32 path_len; /* bytes of path sent (the NUL not counted) */
  /* From the hierarchy's root, "/docker/<id>"; only path_len + 1 bytes
   * are sent. */
  char path[PIDTREE_CGROUP_PATH];
};

/* Each probe has its own rules in the shared filter maps, told apart by
 * its slot (the `probe` byte of the keys, a block of the port bitmap). */
#define PIDTREE_SLOT_TCP_CONNECT 0
#define PIDTREE_SLOT_NET_LISTEN 1
#define PIDTREE_SLOT_UDP_SESSION 2
#define PIDTREE_FILTER_SLOTS 3

/* Keys of the longest-prefix-match tries that hold the network filters.
 * Two rule sets of each probe live side by side, told apart by the leading
 * `set` byte (covered by the prefix), so a reload fills the idle set and
 * then flips the probe's filter_active entry: every lookup sees the old
 * rules or the new, never a mix.
 * prefixlen = 16 (the set and probe bytes) + the network's prefix length. */
struct pidtree_lpm_v4_key {
  __u32 prefixlen;
  __u8 set;
  __u8 probe; /* PIDTREE_SLOT_* */
  __u8 addr[4];
  __u8 pad[2]; /* zero */
};

struct pidtree_lpm_v6_key {
  __u32 prefixlen;
  __u8 set;
  __u8 probe;
  __u8 addr[16];
  __u8 pad[2]; /* zero */
};

/* How a matching network rule treats the port. */
#define PIDTREE_PORTS_ALL 0    /* filter every port */
#define PIDTREE_PORTS_EXCEPT 1 /* filter every port but those listed */
#define PIDTREE_PORTS_ONLY 2   /* filter only the ports listed */

/* Value of a network filter: which rule matched and how it treats ports. */
struct pidtree_net_rule {
  __u32 rule_id;
  __u32 port_mode; /* PIDTREE_PORTS_* */
};

/* The ports an EXCEPT/ONLY rule lists: port p is bit (p & 7) of byte
 * p >> 3. Keyed by the rule's id (__u32; ids are unique across both rule
 * sets and all probes), one entry per rule that lists ports. */
#define PIDTREE_PORT_BITMAP_BYTES 8192
struct pidtree_port_bitmap {
  __u8 bits[PIDTREE_PORT_BITMAP_BYTES];
};

/* The probe-wide port filter (includeports / excludeports) as a bitmap of
 * dropped ports: port p of (slot, set) is bit (p & 63) of entry
 * ((slot * 2 + set) << 10) + (p >> 6) of the port_filter_bits array. */
#define PIDTREE_PORT_WORDS 1024 /* 65536 ports / 64 */

/* Settings of a probe that are data rather than code (see each probe's
 * source for its flags), one entry per slot of the probe_settings array. */
struct pidtree_probe_settings {
  __u32 flags;
  __u32 netns; /* a network namespace inode the flags refer to */
};

/* Any probe's flag: it reports only tasks of the cgroups that
 * container_reports marks for it (its container_labels). */
#define PIDTREE_PROBE_CONTAINER_FILTER 0x80000000u

/* container_labels, enforced in the kernel: cgroup id (the inode of its
 * cgroup v2 directory) -> a bit per probe slot (1 << PIDTREE_SLOT_*) that
 * reports that cgroup's tasks, decided by user space from the container's
 * labels, with PIDTREE_CGROUP_DECIDED. A cgroup not in the map yet (made
 * since user space last looked) is passed on: user space decides then. */
#define PIDTREE_CGROUP_DECIDED 0x80u
#define PIDTREE_MAX_CGROUPS 65536

/* net_listen's flags. */
#define PIDTREE_LISTEN_SAME_NETNS 1     /* only sockets in `netns` */
#define PIDTREE_LISTEN_NO_RANDOM_BIND 2 /* leave out UDP binds to port 0 */

/* Floods: each process (thread group) may send `budget` reported events
 * (of all probes together) per `window_ns` through the perf buffer; what
 * it reports beyond is counted in flood_summaries per (process, probe,
 * destination) instead, and user space writes one summary line per entry.
 * So no process can fill the buffer and push out other processes' events.
 * Entries carry the generation (`gen`) that was current when they were
 * made: user space flips it, and takes the entries of the old one only a
 * whole scan period later, when no program still adds to them, so every
 * count is exact. A budget of 0 turns this off. */
#define PIDTREE_FLOOD_PROCESSES 16384 /* budgets kept (LRU) */
#define PIDTREE_FLOOD_ENTRIES 16384   /* summaries, both generations */

struct pidtree_flood_control {
  __u64 budget;    /* events per window per process; 0: no limit */
  __u64 window_ns; /* boot clock */
  __u32 gen;       /* the generation new entries take */
  __u32 reserved;
};

/* Sent once per window by a process that goes over its budget, at its
 * first event beyond it, so user space keeps its tree as of that moment
 * for the summary lines, which come later (when it may be gone). */
struct pidtree_flood_event {
  __u64 ts_boot_ns;
  __u32 kind; /* PIDTREE_EVENT_FLOOD */
  __u32 pid;
  __u32 uid;
  __u32 loginuid;
};

/* A process's use of its budget, by pid (thread group id). */
struct pidtree_flood_budget {
  __u64 window_start_ns;
  __u64 used; /* events in the window so far, past the budget too */
};

struct pidtree_flood_key {
  __u32 gen;
  __u32 pid;      /* the process over its budget */
  __u8 slot;      /* PIDTREE_SLOT_* */
  __u8 protocol;  /* net_listen: IPPROTO_TCP or _UDP; otherwise 0 */
  __u16 family;   /* AF_INET or AF_INET6 */
  __u16 port;     /* host byte order */
  __u16 reserved; /* zero */
  __u8 addr[16];  /* network order; IPv4 uses the first 4 bytes */
};

struct pidtree_flood_entry {
  __u64 count;    /* events (udp_session: messages) */
  __u64 first_ns; /* the first one counted here */
  __u64 last_ns;  /* the latest */
  __u32 tid;      /* the task of the first one, and its ids */
  __u32 uid;
  __u32 loginuid;
  __u32 netns; /* net_listen: the first one's network namespace */
  __u64 cgroup_id;
  char comm[PIDTREE_COMM_LEN];
};

/* Counters (an array, one entry each, per CPU). */
#define PIDTREE_FLOOD_UNTRACKED 0 /* over budget, and flood_summaries full */
#define PIDTREE_FLOOD_COUNTERS 1

#endif /* PIDTREE_EVENT_H */
