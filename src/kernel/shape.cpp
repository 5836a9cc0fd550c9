#include "kernel/shape.h"

#include <cstdio>

namespace pidtree {

std::string kernel_shape(const Options &opt, Backend backend,
                         const KernelFeatures &kernel, bool sockets,
                         ProgramShape *shape) {
  *shape = ProgramShape{};
  shape->backend = backend;
  shape->process_events = opt.ancestry == AncestrySource::kTable;
  shape->have_group_dead = kernel.exit_has_group_dead();
  shape->have_sock_send_length =
      kernel.has_tracepoint("sock", "sock_send_length");
  const bool want_argv =
      shape->process_events && opt.exec_argv != ExecArgv::kSyscall;
  const bool want_sock = backend == Backend::kTracepoint || sockets;
  KernelBtf btf(kKernelBtf);  // parsed once for every lookup
  std::string why;
  // Login uids: wanted whatever else is; without, /proc is the fallback.
  std::string no_loginuid;
  shape->task_loginuid = btf.loginuid_offset(&no_loginuid);
  if (want_sock)
    shape->sock_offsets = btf.sock_offsets(&why);
  if (sockets)
    shape->socket_offsets = btf.socket_offsets(&why);
  if (!want_argv || (shape->argv_offsets = btf.argv_offsets(&why)))
    return "";
  if (opt.exec_argv == ExecArgv::kMemory)
    return "--exec-argv memory needs the kernel's BTF: " + why +
           " (try --exec-argv syscall)";
  std::fprintf(stderr,
               "pidtree-bcc: note: %s; command lines are read at execve() "
               "through syscall tracepoints, which slow every syscall\n",
               why.c_str());
  return "";
}

}  // namespace pidtree
