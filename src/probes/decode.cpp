#include "probes/decode.h"

#include <cstddef>
#include <cstring>

#include "event.h"
#include "process/procfs.h"

namespace pidtree {

std::optional<ConnectEvent> decode_connect_event(const void *data,
                                                 size_t size) {
  // Perf records are padded to 8 bytes, so only a short record is wrong.
  if (data == nullptr || size < sizeof(pidtree_connect_event))
    return std::nullopt;
  pidtree_connect_event raw;
  std::memcpy(&raw, data, sizeof(raw));
  if (raw.kind != PIDTREE_EVENT_TCP_CONNECT)
    return std::nullopt;
  ConnectEvent ev;
  if (raw.family == 2)
    ev.family = Family::kIpv4;
  else if (raw.family == 10)
    ev.family = Family::kIpv6;
  else
    return std::nullopt;
  ev.ts_boot_ns = raw.ts_boot_ns;
  ev.pid = raw.pid;
  ev.tid = raw.tid;
  ev.uid = raw.uid;
  ev.sport = raw.sport;
  ev.dport = raw.dport;
  ev.saddr.family = ev.daddr.family = ev.family;
  size_t len = ev.family == Family::kIpv4 ? 4 : 16;
  std::memcpy(ev.saddr.bytes.data(), raw.saddr, len);
  std::memcpy(ev.daddr.bytes.data(), raw.daddr, len);
  ev.comm.assign(raw.comm, strnlen(raw.comm, sizeof(raw.comm)));
  return ev;
}

namespace {

std::optional<ProcEvent> decode_proc_event(const pidtree_event_header &head,
                                           const void *data, size_t size) {
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
  return ev;
}

}  // namespace

std::optional<Event> decode_event(const void *data, size_t size) {
  if (data == nullptr || size < sizeof(pidtree_event_header))
    return std::nullopt;
  pidtree_event_header head;
  std::memcpy(&head, data, sizeof(head));
  if (head.kind == PIDTREE_EVENT_TCP_CONNECT) {
    if (auto ev = decode_connect_event(data, size))
      return Event{std::move(*ev)};
    return std::nullopt;
  }
  if (auto ev = decode_proc_event(head, data, size))
    return Event{std::move(*ev)};
  return std::nullopt;
}

uint64_t event_time(const Event &event) {
  return std::visit([](const auto &e) { return e.ts_boot_ns; }, event);
}

}  // namespace pidtree
