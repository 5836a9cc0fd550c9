// The process table's feed from the kernel (bpf/process_events.bpf.c):
// fork, exec, exit and uid-change records, decoded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace pidtree {

// A change to the process table: fork, exec, exit or uid change.
struct ProcEvent {
  enum class Kind { kFork, kExec, kExit, kUid };
  Kind kind = Kind::kFork;
  uint64_t ts_boot_ns = 0;
  uint32_t pid = 0;
  uint32_t ppid = 0;  // kFork
  uint32_t uid = 0;   // kFork, kExec, kUid
  // kFork (the child's, from its parent), kExec: the audit login uid, as
  // the kernel read it (PIDTREE_NO_LOGINUID when none, or not read).
  uint32_t loginuid = 0xffffffffu;
  bool clone_parent = false;  // kFork: the parent is ppid's parent
  std::string cmdline;        // kExec: argv joined by spaces
  bool argv_missing = false;  // kExec: cmdline is only the filename
};

// One record of any PIDTREE_EVENT_PROC_* kind; nullopt for a malformed one.
std::optional<ProcEvent> decode_proc_event(const void *data, size_t size);

}  // namespace pidtree
