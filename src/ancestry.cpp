#include "pidtree/ancestry.h"

#include <unordered_set>

namespace pidtree {

namespace {

// Deeper than any real tree; stops a walk that a pid-reuse race turned into
// a loop.
constexpr size_t kMaxDepth = 1024;

// Every problem met on the way is kept, in the order met.
void add_error(Ancestry *out, const std::string &message) {
  out->error += out->error.empty() ? message : "; " + message;
}

}  // namespace

Ancestry ProcAncestry::resolve(const ConnectEvent &event) {
  Ancestry out;
  std::unordered_set<uint32_t> seen;
  uint32_t pid = event.pid;
  while (true) {
    if (!seen.insert(pid).second || out.tree.size() >= kMaxDepth) {
      add_error(&out, "ancestry of process " + std::to_string(event.pid) +
                          " loops at pid " + std::to_string(pid) +
                          " (pid reused during the walk)");
      break;
    }
    ProcessInfo info;
    ReadStatus status = source_.read(pid, &info);
    if (status != ReadStatus::kOk) {
      std::string who = pid == event.pid
                            ? "connecting process " + std::to_string(pid)
                            : "process " + std::to_string(pid);
      add_error(&out, status == ReadStatus::kGone
                          ? who + " exited before its ancestry was read"
                          : who + " has unreadable /proc entries");
      break;
    }
    if (info.exited)
      add_error(&out, "process " + std::to_string(pid) +
                          " exited before its command line was read");
    out.tree.push_back(
        ProcNode{pid, std::move(info.cmdline), users_.name(info.uid)});
    if (pid == 1 || info.ppid == 0)
      break;
    pid = info.ppid;
  }
  return out;
}

}  // namespace pidtree
