#include "process/process_events.h"

#include <cstddef>
#include <cstring>

#include "event.h"
#include "process/procfs.h"

namespace pidtree {

std::optional<ProcEvent> decode_proc_event(const void *data, size_t size) {
  if (data == nullptr || size < sizeof(pidtree_event_header))
    return std::nullopt;
  pidtree_event_header head;
  std::memcpy(&head, data, sizeof(head));
  ProcEvent ev;
  ev.ts_boot_ns = head.ts_boot_ns;
  ev.pid = head.pid;
  if (head.kind == PIDTREE_EVENT_PROC_EXEC) {
    constexpr size_t kHead = offsetof(pidtree_exec_event, args);
    if (size < kHead)
      return std::nullopt;
    pidtree_exec_event raw;
    std::memcpy(&raw, data, kHead);
    if (raw.args_len > PIDTREE_ARGS_SIZE || size < kHead + raw.args_len)
      return std::nullopt;
    ev.kind = ProcEvent::Kind::kExec;
    ev.uid = raw.uid;
    ev.loginuid = raw.loginuid;
    const char *args = static_cast<const char *>(data) + kHead;
    if (raw.flags & PIDTREE_EXEC_NO_ARGV) {
      ev.argv_missing = true;
      ev.cmdline.assign(args, strnlen(args, raw.args_len));
    } else {
      ev.cmdline = join_cmdline(std::string(args, raw.args_len));
      if (raw.flags & PIDTREE_EXEC_ARGS_CUT)
        ev.cmdline += kCmdlineCutMarker;
    }
    return ev;
  }
  if (size < sizeof(pidtree_proc_event))
    return std::nullopt;
  pidtree_proc_event raw;
  std::memcpy(&raw, data, sizeof(raw));
  switch (raw.kind) {
    case PIDTREE_EVENT_PROC_FORK:
      ev.kind = ProcEvent::Kind::kFork;
      ev.clone_parent = (raw.flags & PIDTREE_FORK_CLONE_PARENT) != 0;
      break;
    case PIDTREE_EVENT_PROC_EXIT:
      ev.kind = ProcEvent::Kind::kExit;
      break;
    case PIDTREE_EVENT_PROC_UID:
      ev.kind = ProcEvent::Kind::kUid;
      break;
    default:
      return std::nullopt;
  }
  ev.ppid = raw.ppid;
  ev.uid = raw.uid;
  ev.loginuid = raw.loginuid;
  return ev;
}

}  // namespace pidtree
