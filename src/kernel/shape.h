// What this kernel gives the program (ProgramShape): the backend, the
// exit tracepoint's fields and the struct offsets from its BTF, read once.
#pragma once

#include <string>

#include "config/options.h"
#include "kernel/kernel_features.h"
#include "kernel/program.h"

namespace pidtree {

// Fills `shape` for `backend` (resolved). `sockets`: a probe reads sockets
// (net_listen), which needs the socket and namespace offsets whatever the
// backend. "" or a one-line error: argv from memory was asked for and the
// kernel has no usable BTF. Without BTF, argv is read at execve() through
// syscall tracepoints (with a note on stderr: they slow every syscall),
// the state-change program reads the classic tracepoint's record, and a
// probe that reads sockets refuses to run (Probe::check).
std::string kernel_shape(const Options &opt, Backend backend,
                         const KernelFeatures &kernel, bool sockets,
                         ProgramShape *shape);

}  // namespace pidtree
