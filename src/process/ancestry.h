// Ancestry: the chain of processes from an event's process up to pid 1.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "process/proc_node.h"
#include "process/process_events.h"
#include "process/process_table.h"
#include "process/procfs.h"
#include "process/users.h"

namespace pidtree {

struct Ancestry {
  std::vector<NodeRef> tree;  // the event's process first
  std::string error;          // "" or why the tree is incomplete
};

// Whose tree: the event's process, and the uid the kernel saw it run as at
// the event (news for the process table), when the event has one.
struct EventTask {
  uint32_t pid = 0;
  std::optional<uint32_t> uid;
  // Its audit login uid at the event, when the kernel read it.
  std::optional<uint32_t> loginuid = std::nullopt;
};

class AncestryResolver {
 public:
  virtual ~AncestryResolver() = default;
  virtual Ancestry resolve(const EventTask &task) = 0;
};

// Walks /proc when the event is handled. Racy by nature: a process that
// exited (or whose pid was reused) since the connect yields a partial tree
// with `error` saying so.
class ProcAncestry : public AncestryResolver {
 public:
  ProcAncestry(ProcessSource &source, UserDb &users)
      : source_(source), users_(users) {}
  Ancestry resolve(const EventTask &task) override;

 private:
  ProcessSource &source_;
  UserDb &users_;
};

// Takes the fork/exec/exit/uid events that keep a process table current.
class ProcessEventHandler {
 public:
  virtual ~ProcessEventHandler() = default;
  virtual void apply(const ProcEvent &event) = 0;
};

// Resolves from the kernel-fed process table, so the tree is the one the
// process had at its connect, whatever happened since. A process the table
// does not know (its events were lost) is read from /proc instead, and the
// event's `error` says so.
class TableAncestry : public AncestryResolver, public ProcessEventHandler {
 public:
  // Its table, for the stats line.
  const ProcessTable &table() const { return table_; }
  TableAncestry(ProcessTable &table, ProcessSource &source, UserDb &users)
      : table_(table),
        source_(source),
        users_(users),
        fallback_(source, users) {}

  // Records every running process from /proc. Call once the process
  // probes are attached, before handling any event.
  void seed();
  void apply(const ProcEvent &event) override;
  Ancestry resolve(const EventTask &task) override;
  // After lost events: processes whose exit was lost are marked exited.
  void resync();
  // The kernel reads every task's login uid (task_struct.loginuid from
  // BTF); without, each new process's is read from /proc/PID/loginuid.
  void set_loginuid_from_kernel(bool yes) { loginuid_from_kernel_ = yes; }

 private:
  uint32_t login_of(uint32_t pid, uint32_t from_kernel);

  ProcessTable &table_;
  ProcessSource &source_;
  UserDb &users_;
  ProcAncestry fallback_;
  bool loginuid_from_kernel_ = true;
};

}  // namespace pidtree
