/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cgroup v2 directories as they are made and removed, for the enrich
 * stage's containers: a container's cgroup is known, with its path (which
 * names the container), before any event of a task in it, in the same time
 * order as the other events. Only the default (v2) hierarchy, whose id is
 * 0; a cgroup is made or removed far less often than anything else here.
 */

BPF_PERCPU_ARRAY(cgroup_scratch, struct pidtree_cgroup_event, 1);

static __always_inline int pidtree_cgroup_event(void *args, int root, u64 id,
                                                u32 data_loc, u32 made) {
  if (root != 0)
    return 0;
  u32 zero = 0;
  struct pidtree_cgroup_event *ev = cgroup_scratch.lookup(&zero);
  if (!ev)
    return 0;
  long n = bpf_probe_read_kernel_str(ev->path, sizeof(ev->path),
                                     (char *)args + (data_loc & 0xffff));
  if (n <= 0) {
    ev->path[0] = 0;
    n = 1;
  }
  u32 len = (u32)n; /* with its NUL */
  /* Opaque from here: the compiler would reuse n's signed range, which the
   * verifier cannot bound for the output's size. */
  asm volatile("" : "+r"(len));
  if (len > PIDTREE_CGROUP_PATH)
    len = PIDTREE_CGROUP_PATH;
  if (len < 1)
    len = 1;
  ev->ts_boot_ns = bpf_ktime_get_boot_ns();
  ev->kind = PIDTREE_EVENT_CGROUP;
  ev->pid = bpf_get_current_pid_tgid() >> 32;
  ev->id = id;
  ev->made = made;
  ev->path_len = len - 1;
  events.perf_submit(args, ev,
                     offsetof(struct pidtree_cgroup_event, path) + len);
  return 0;
}

TRACEPOINT_PROBE(cgroup, cgroup_mkdir) {
  return pidtree_cgroup_event(args, args->root, args->id, args->data_loc_path,
                              1);
}

TRACEPOINT_PROBE(cgroup, cgroup_rmdir) {
  return pidtree_cgroup_event(args, args->root, args->id, args->data_loc_path,
                              0);
}
