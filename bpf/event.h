/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one definition of everything that crosses the kernel/user boundary:
 * the perf-buffer event and the filter map layouts. Included both by the
 * BPF program (compiled at run time by BCC, where this file is pasted into
 * the program text) and by user space, so the layouts cannot drift.
 */
#ifndef PIDTREE_EVENT_H
#define PIDTREE_EVENT_H

#include <linux/types.h>

#define PIDTREE_COMM_LEN 16

/* Event kinds; user space rejects anything else. */
#define PIDTREE_EVENT_TCP_CONNECT 1

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
  __u8 saddr[16];   /* network order; IPv4 uses the first 4 bytes */
  __u8 daddr[16];
  char comm[PIDTREE_COMM_LEN];
};

/* Keys of the longest-prefix-match tries that hold the network filters. */
struct pidtree_lpm_v4_key {
  __u32 prefixlen;
  __u8 addr[4];
};

struct pidtree_lpm_v6_key {
  __u32 prefixlen;
  __u8 addr[16];
};

/* How a matching network rule treats the destination port. */
#define PIDTREE_PORTS_ALL 0     /* filter every port */
#define PIDTREE_PORTS_EXCEPT 1  /* filter every port but those listed */
#define PIDTREE_PORTS_ONLY 2    /* filter only the ports listed */

/* Value of a network filter: which rule matched and how it treats ports. */
struct pidtree_net_rule {
  __u32 rule_id;
  __u32 port_mode; /* PIDTREE_PORTS_* */
};

/* Key of the per-rule port set consulted for EXCEPT/ONLY rules. */
struct pidtree_rule_port_key {
  __u32 rule_id;
  __u32 port;
};

#endif /* PIDTREE_EVENT_H */
