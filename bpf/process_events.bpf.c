/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process events that feed user space's process table, so ancestry comes
 * from what the kernel saw rather than from /proc at some later moment:
 * new processes (task:task_newtask, threads skipped), exec with its argv,
 * and exits. The uid and the audit login uid of each are taken at fork
 * and exec.
 *
 * Where the argv comes from (PIDTREE_ARGV_FROM_MEMORY):
 * 1: at sched_process_exec, from the new program's memory, between
 *    mm->arg_start and mm->arg_end. The three offsets come from the running
 *    kernel's BTF (PIDTREE_TASK_MM, PIDTREE_MM_ARG_*), never from headers.
 * 0: from the caller's memory at execve() entry, with uid changes from
 *    set*uid() exits. These are syscall tracepoints: attaching any of them
 *    puts every syscall of every task on the kernel's slow path.
 */

#define PIDTREE_CLONE_THREAD 0x00010000
#define PIDTREE_CLONE_PARENT 0x00008000

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
  /* A child starts with its parent's login uid (read for forks only: an
   * exit or a uid change needs none). */
  ev.loginuid = kind == PIDTREE_EVENT_PROC_FORK ? pidtree_loginuid()
                                                : PIDTREE_NO_LOGINUID;
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

#if PIDTREE_ARGV_FROM_MEMORY

/* The argv of the program current has just become, or 0 if it cannot be
 * read. exec copied the strings to the new stack: the pages are there. */
static __always_inline struct pidtree_exec_event *pidtree_exec_argv(
    u32 old_tid) {
  u32 zero = 0;
  struct pidtree_exec_event *ev = exec_scratch.lookup(&zero);
  if (!ev)
    return 0;
  char *task = (char *)bpf_get_current_task();
  char *mm = 0;
  unsigned long start = 0, end = 0;
  if (bpf_probe_read_kernel(&mm, sizeof(mm), task + PIDTREE_TASK_MM) != 0 ||
      !mm ||
      bpf_probe_read_kernel(&start, sizeof(start),
                            mm + PIDTREE_MM_ARG_START) != 0 ||
      bpf_probe_read_kernel(&end, sizeof(end), mm + PIDTREE_MM_ARG_END) != 0 ||
      end < start)
    return 0;
  ev->flags = 0;
  u64 len = end - start;
  if (len > PIDTREE_ARGS_SIZE) {
    len = PIDTREE_ARGS_SIZE;
    ev->flags = PIDTREE_EXEC_ARGS_CUT;
  }
  if (len > 0 && bpf_probe_read_user(ev->args,
                                     len & (2 * PIDTREE_ARGS_SIZE - 1),
                                     (const void *)start) != 0)
    return 0;
  ev->args_len = len;
  return ev;
}

#else /* argv from execve() */

/* argv of an execve() in progress, by thread, until it succeeds or fails.
 * LRU: an entry whose execve() never returned (the task was killed) must
 * not hold a slot for ever. */
BPF_TABLE("lru_hash", u32, struct pidtree_exec_event, pending_exec, 256);

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

static __always_inline struct pidtree_exec_event *pidtree_exec_argv(
    u32 old_tid) {
  return pending_exec.lookup(&old_tid);
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

#endif /* PIDTREE_ARGV_FROM_MEMORY */

TRACEPOINT_PROBE(sched, sched_process_exec) {
  /* old_pid: the thread that called execve(), before it took over as the
   * thread group leader. */
  u32 old_tid = args->old_pid;
  struct pidtree_exec_event *ev = pidtree_exec_argv(old_tid);
  if (!ev) {
    /* No argv (an execve() that started before we attached, a
     * kernel-initiated exec, or memory that could not be read): send the
     * filename. */
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
  ev->loginuid = pidtree_loginuid();
  u32 len = ev->args_len;
  if (len > PIDTREE_ARGS_SIZE)
    len = PIDTREE_ARGS_SIZE;
  events.perf_submit(args, ev,
                     offsetof(struct pidtree_exec_event, args) + len);
#if !PIDTREE_ARGV_FROM_MEMORY
  pending_exec.delete(&old_tid);
#endif
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
