/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process events that feed user space's process table, so ancestry comes
 * from what the kernel saw rather than from /proc at some later moment:
 * new processes (task:task_newtask, threads skipped), exec with the argv
 * read from the caller's memory at execve() entry, exits and uid changes.
 * Only tracepoints and BPF helpers are used: no kernel struct offsets.
 */

#define PIDTREE_CLONE_THREAD 0x00010000
#define PIDTREE_CLONE_PARENT 0x00008000

/* argv of an execve() in progress, by thread, until it succeeds or fails.
 * LRU: an entry whose execve() never returned (the task was killed) must
 * not hold a slot for ever. */
BPF_TABLE("lru_hash", u32, struct pidtree_exec_event, pending_exec, 256);
/* An exec event is too big for the BPF stack; this is its workspace. */
BPF_PERCPU_ARRAY(exec_scratch, struct pidtree_exec_event, 1);

static __always_inline void pidtree_proc_submit(void *ctx, u32 kind, u32 pid,
                                                u32 ppid, u32 flags) {
  struct pidtree_proc_event ev = {};
  ev.ts_boot_ns = bpf_ktime_get_boot_ns();
  ev.kind = kind;
  ev.pid = pid;
  ev.ppid = ppid;
  ev.uid = (u32)bpf_get_current_uid_gid();
  ev.flags = flags;
  events.perf_submit(ctx, &ev, sizeof(ev));
}

TRACEPOINT_PROBE(task, task_newtask) {
  if (args->clone_flags & PIDTREE_CLONE_THREAD)
    return 0;
  u32 parent = bpf_get_current_pid_tgid() >> 32;
  u32 flags = (args->clone_flags & PIDTREE_CLONE_PARENT)
                  ? PIDTREE_FORK_CLONE_PARENT
                  : 0;
  pidtree_proc_submit(args, PIDTREE_EVENT_PROC_FORK, args->pid, parent, flags);
  return 0;
}

static __always_inline int pidtree_capture_argv(const char *const *argv) {
  u32 zero = 0;
  struct pidtree_exec_event *ev = exec_scratch.lookup(&zero);
  if (!ev)
    return 0;
  ev->flags = 0;
  u32 off = 0;
  int i;
  for (i = 0; i < PIDTREE_MAX_ARGS; i++) {
    const char *arg = 0;
    if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) != 0 || !arg)
      break;
    if (off >= PIDTREE_ARGS_SIZE) {
      ev->flags |= PIDTREE_EXEC_ARGS_CUT;
      break;
    }
    long n = bpf_probe_read_user_str(&ev->args[off & (PIDTREE_ARGS_SIZE - 1)],
                                     PIDTREE_ARGS_SIZE, arg);
    if (n <= 0) {
      ev->flags |= PIDTREE_EXEC_ARGS_CUT;
      break;
    }
    off += n;
  }
  if (i == PIDTREE_MAX_ARGS)
    ev->flags |= PIDTREE_EXEC_ARGS_CUT;
  if (off > PIDTREE_ARGS_SIZE) {
    off = PIDTREE_ARGS_SIZE;
    ev->flags |= PIDTREE_EXEC_ARGS_CUT;
  }
  ev->args_len = off;
  u32 tid = (u32)bpf_get_current_pid_tgid();
  pending_exec.update(&tid, ev);
  return 0;
}

TRACEPOINT_PROBE(syscalls, sys_enter_execve) {
  return pidtree_capture_argv((const char *const *)args->argv);
}

TRACEPOINT_PROBE(syscalls, sys_enter_execveat) {
  return pidtree_capture_argv((const char *const *)args->argv);
}

/* A failed execve() leaves the process as it was. */
static __always_inline int pidtree_exec_done(long ret) {
  u32 tid = (u32)bpf_get_current_pid_tgid();
  if (ret < 0)
    pending_exec.delete(&tid);
  return 0;
}

TRACEPOINT_PROBE(syscalls, sys_exit_execve) { return pidtree_exec_done(args->ret); }

TRACEPOINT_PROBE(syscalls, sys_exit_execveat) {
  return pidtree_exec_done(args->ret);
}

TRACEPOINT_PROBE(sched, sched_process_exec) {
  /* old_pid: the thread that called execve(), before it took over as the
   * thread group leader. */
  u32 old_tid = args->old_pid;
  struct pidtree_exec_event *ev = pending_exec.lookup(&old_tid);
  if (!ev) {
    /* Exec without an execve() we saw (started before we attached, or a
     * kernel-initiated exec): send the filename. */
    u32 zero = 0;
    ev = exec_scratch.lookup(&zero);
    if (!ev)
      return 0;
    unsigned short loc = args->data_loc_filename & 0xffff;
    long n = bpf_probe_read_kernel_str(ev->args, PIDTREE_ARGS_SIZE,
                                       (char *)args + loc);
    ev->args_len = n > 0 ? (u32)n : 0;
    ev->flags = PIDTREE_EXEC_NO_ARGV;
  }
  ev->ts_boot_ns = bpf_ktime_get_boot_ns();
  ev->kind = PIDTREE_EVENT_PROC_EXEC;
  ev->pid = bpf_get_current_pid_tgid() >> 32;
  ev->uid = (u32)bpf_get_current_uid_gid();
  u32 len = ev->args_len;
  if (len > PIDTREE_ARGS_SIZE)
    len = PIDTREE_ARGS_SIZE;
  events.perf_submit(args, ev,
                     offsetof(struct pidtree_exec_event, args) + len);
  pending_exec.delete(&old_tid);
  return 0;
}

TRACEPOINT_PROBE(sched, sched_process_exit) {
  u64 pid_tgid = bpf_get_current_pid_tgid();
#if PIDTREE_HAVE_GROUP_DEAD
  if (!args->group_dead)
    return 0;
#else
  /* Older kernels do not say when the last thread leaves; the leader's
   * exit stands for the group's. */
  if ((u32)pid_tgid != (u32)(pid_tgid >> 32))
    return 0;
#endif
  pidtree_proc_submit(args, PIDTREE_EVENT_PROC_EXIT, pid_tgid >> 32, 0, 0);
  return 0;
}

static __always_inline int pidtree_uid_changed(void *ctx, long ret) {
  if (ret == 0)
    pidtree_proc_submit(ctx, PIDTREE_EVENT_PROC_UID,
                        bpf_get_current_pid_tgid() >> 32, 0, 0);
  return 0;
}

TRACEPOINT_PROBE(syscalls, sys_exit_setuid) {
  return pidtree_uid_changed(args, args->ret);
}

TRACEPOINT_PROBE(syscalls, sys_exit_setreuid) {
  return pidtree_uid_changed(args, args->ret);
}

TRACEPOINT_PROBE(syscalls, sys_exit_setresuid) {
  return pidtree_uid_changed(args, args->ret);
}
