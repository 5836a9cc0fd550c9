#include "process/ancestry.h"

#include <unordered_set>

namespace pidtree {

namespace {

// Deeper than any real tree; stops a walk that a pid-reuse race turned into
// a loop.
constexpr size_t kMaxDepth = 1024;
// What a tree usually holds (a service under systemd, a shell under sshd).
constexpr size_t kTypicalDepth = 16;

// Every problem met on the way is kept, in the order met.
void add_error(Ancestry *out, const std::string &message) {
  out->error += out->error.empty() ? message : "; " + message;
}

}  // namespace

Ancestry ProcAncestry::resolve(const EventTask &event) {
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
                            ? "the event's process " + std::to_string(pid)
                            : "process " + std::to_string(pid);
      add_error(&out, status == ReadStatus::kGone
                          ? who + " exited before its ancestry was read"
                          : who + " has unreadable /proc entries");
      break;
    }
    if (info.exited)
      add_error(&out, "process " + std::to_string(pid) +
                          " exited before its command line was read");
    out.tree.push_back(ProcNode{
        pid, std::move(info.cmdline), users_.name(info.uid), info.loginuid,
        info.loginuid == kNoLoginuid ? std::string()
                                     : users_.name(info.loginuid)});
    if (pid == 1 || info.ppid == 0)
      break;
    pid = info.ppid;
  }
  return out;
}

void TableAncestry::seed() {
  for (uint32_t pid : source_.list_pids()) {
    ProcessInfo info;
    if (source_.read(pid, &info) != ReadStatus::kOk)
      continue;  // gone meanwhile: its exit event follows
    table_.seed(pid, info.ppid, info.uid, std::move(info.cmdline),
                source_.start_time_ns(pid), info.exited, info.loginuid);
  }
  table_.link_seeded();
}

void TableAncestry::apply(const ProcEvent &event) {
  switch (event.kind) {
    case ProcEvent::Kind::kFork:
      // The uid is the forking process's at that moment: news of it too
      // (a set*uid() since is only seen this way without syscall events).
      table_.set_uid(event.ppid, event.uid);
      table_.fork(event.ts_boot_ns, event.pid, event.ppid, event.uid,
                  event.clone_parent, login_of(event.pid, event.loginuid));
      break;
    case ProcEvent::Kind::kExec:
      table_.exec(event.pid, event.uid, event.cmdline,
                  event.argv_missing
                      ? "the argv of process " + std::to_string(event.pid) +
                            " was not captured; cmdline is its filename"
                      : std::string(),
                  login_of(event.pid, event.loginuid));
      break;
    case ProcEvent::Kind::kExit:
      table_.exit(event.pid);
      break;
    case ProcEvent::Kind::kUid:
      table_.set_uid(event.pid, event.uid);
      break;
  }
}

Ancestry TableAncestry::resolve(const EventTask &event) {
  // The task's uid, as of its event (one lookup for both).
  const ProcessRecord *rec = event.uid ? table_.set_uid(event.pid, *event.uid)
                                       : table_.find_live(event.pid);
  if (rec && event.loginuid && loginuid_from_kernel_ &&
      rec->loginuid != *event.loginuid) {
    table_.set_loginuid(event.pid, *event.loginuid);
    rec = table_.find_live(event.pid);
  }
  if (!rec) {
    Ancestry out = fallback_.resolve(event);
    std::string why = "process " + std::to_string(event.pid) +
                      " was not in the process table; ancestry read from "
                      "/proc";
    out.error = out.error.empty() ? why : why + "; " + out.error;
    return out;
  }
  Ancestry out;
  // Room for a typical tree: growing the vector copies every NodeRef (two
  // atomic operations each), which was a fifth of the tracer's time.
  out.tree.reserve(kTypicalDepth);
  const uint64_t users_epoch = users_.epoch();
  while (rec) {
    if (out.tree.size() >= kMaxDepth) {
      out.error = "ancestry of process " + std::to_string(event.pid) +
                  " is deeper than " + std::to_string(kMaxDepth);
      break;
    }
    if (!rec->node || rec->node_users_epoch != users_epoch) {
      rec->node = std::make_shared<const ProcNode>(
          ProcNode{rec->pid, rec->cmdline, users_.name(rec->uid), rec->loginuid,
                   rec->loginuid == kNoLoginuid ? std::string()
                                                : users_.name(rec->loginuid)});
      rec->node_users_epoch = users_epoch;
    }
    out.tree.emplace_back(rec->node);
    if (out.error.empty() && !rec->note.empty())
      out.error = rec->note;
    if (rec->parent_unknown) {
      if (out.error.empty())
        out.error = "the parent of process " + std::to_string(rec->pid) +
                    " is unknown (its fork was not seen)";
      break;
    }
    if (rec->pid == 1 || rec->ppid == 0)
      break;
    const ProcessRecord *parent = table_.get(rec->parent);
    if (!parent && out.error.empty())
      out.error = rec->parent != 0
                      ? "the parent of process " + std::to_string(rec->pid) +
                            " was evicted from the process table (see "
                            "--max-exited)"
                      : "the parent of process " + std::to_string(rec->pid) +
                            " (pid " + std::to_string(rec->ppid) +
                            ") is unknown";
    rec = parent;
  }
  return out;
}

uint32_t TableAncestry::login_of(uint32_t pid, uint32_t from_kernel) {
  if (loginuid_from_kernel_)
    return from_kernel;
  // The kernel did not read it (no BTF, or no CONFIG_AUDIT): /proc, while
  // the process is there to ask.
  return source_.loginuid(pid);
}

void TableAncestry::resync() {
  std::vector<uint32_t> gone;
  table_.for_each_live([&](const ProcessRecord &rec) {
    uint64_t start = source_.start_time_ns(rec.pid);
    if (start == 0 || (rec.start_ns != 0 && !same_start(start, rec.start_ns)))
      gone.push_back(rec.pid);
  });
  for (uint32_t pid : gone)
    table_.exit(pid);
}

}  // namespace pidtree
