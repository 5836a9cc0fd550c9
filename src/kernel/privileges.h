// What the tracer keeps of root's privileges once its programs are
// attached: the capabilities it still uses, and nothing else, in every
// set (effective, permitted, inheritable, ambient and bounding), with
// no_new_privs, so no exec can give any back.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pidtree {

// Linux capability numbers (linux/capability.h), named here so the plan
// does not depend on the build machine's header.
inline constexpr int kCapDacReadSearch = 2;
inline constexpr int kCapSysPtrace = 19;
inline constexpr int kCapSysAdmin = 21;
inline constexpr int kCapBpf = 39;

// The capabilities kept after start-up on a kernel whose highest
// capability is `last_cap` (/proc/sys/kernel/cap_last_cap), and why:
//  - CAP_BPF: the bpf() calls of a running tracer (filter and container
//    maps written on reload and as containers come and go, udp_session's
//    map scans): kernels before 6.5 check it for every bpf() command while
//    kernel.unprivileged_bpf_disabled is set. Where the kernel has no
//    CAP_BPF (before 5.8), CAP_SYS_ADMIN stands for it.
//  - CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH: /proc of other users'
//    processes (net_listen's snapshots read /proc/PID/fd; the process
//    table's fallback reads status and cmdline, also under hidepid), and
//    files the tracer reads but does not own (host files, includes).
std::vector<int> kept_capabilities(int last_cap);

// Bit mask of `caps` (each below 64).
uint64_t capability_mask(const std::vector<int> &caps);

// Drops every capability but `keep` from the calling thread's sets and
// the bounding set, and sets no_new_privs. Call while the process has a
// single thread: capabilities are per thread. "" or why it failed.
std::string drop_privileges(const std::vector<int> &keep);

// /proc/sys/kernel/cap_last_cap; -1 when unreadable.
int read_cap_last_cap();

}  // namespace pidtree
