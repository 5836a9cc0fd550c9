// The process table: every process on the host, fed by the kernel's fork,
// exec, exit and uid events (seeded once from /proc at start), so the
// ancestry of a connect is what it was at the connect, even when the
// processes are long gone by the time the event is handled.
//
// Records are keyed by a serial id, never by pid: a parent link is an id, so
// a reused pid can never splice two processes into one tree. An exited
// process is kept while any record still names it as parent (its
// descendants need it), then reclaimed; at most `max_exited` such records
// are kept, the oldest exits evicted first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

#include "process/proc_node.h"

namespace pidtree {

// The audit login uid of a process that has none (bpf/event.h's
// PIDTREE_NO_LOGINUID).
inline constexpr uint32_t kNoLoginuid = 0xffffffffu;

struct ProcessRecord {
  uint64_t id = 0;
  uint32_t pid = 0;
  uint32_t ppid = 0;    // the parent's pid when this record was made
  uint64_t parent = 0;  // the parent's record id; 0 when none or unknown
  uint32_t uid = 0;
  uint32_t loginuid = kNoLoginuid;  // audit login uid (loginuidmap)
  uint64_t start_ns = 0;            // boot clock; 0 when unknown
  std::string cmdline;
  // "" or why cmdline may not be what the process ran (e.g. argv not seen).
  std::string note;
  uint32_t children = 0;  // records whose `parent` is this one
  bool exited = false;
  bool seeded = false;          // from the /proc scan, not from a fork event
  bool retained = false;        // exited, kept for its descendants
  bool parent_unknown = false;  // its fork was not seen, or its parent's
  // What trees show of it, made on first use and dropped when the command
  // line or uid changes, or remade once the user names' epoch moves on.
  mutable std::shared_ptr<const ProcNode> node;
  mutable uint64_t node_users_epoch = 0;
};

// Whether two start times (boot clock, ns) name the same process, given
// the clock-tick resolution of /proc's.
bool same_start(uint64_t a, uint64_t b);

class ProcessTable {
 public:
  explicit ProcessTable(size_t max_exited = 65536) : max_exited_(max_exited) {}

  // From the /proc scan: record every process, then link() once.
  void seed(uint32_t pid, uint32_t ppid, uint32_t uid, std::string cmdline,
            uint64_t start_ns, bool exited, uint32_t loginuid = kNoLoginuid);
  void link_seeded();

  void fork(uint64_t ts, uint32_t pid, uint32_t ppid, uint32_t uid,
            bool clone_parent, uint32_t loginuid = kNoLoginuid);
  void exec(uint32_t pid, uint32_t uid, std::string cmdline, std::string note,
            uint32_t loginuid = kNoLoginuid);
  void exit(uint32_t pid);
  // Sets the running process's uid; returns it (nullptr if none runs).
  const ProcessRecord *set_uid(uint32_t pid, uint32_t uid);
  // Sets the running process's login uid (as of an event of its own).
  void set_loginuid(uint32_t pid, uint32_t loginuid);

  // The running process with this pid, or nullptr.
  const ProcessRecord *find_live(uint32_t pid) const;
  const ProcessRecord *get(uint64_t id) const;
  // pids of running processes (for the resync after lost events).
  template <typename Fn>
  void for_each_live(Fn fn) const {
    for (const auto &kv : live_)
      fn(*get(kv.second));
  }

  size_t live_count() const { return live_.size(); }
  size_t record_count() const { return records_.size(); }
  size_t retained_exited() const { return retained_; }
  uint64_t evictions() const { return evictions_; }
  uint64_t reclaimed() const { return reclaimed_; }

 private:
  ProcessRecord &add(uint32_t pid, uint32_t ppid, uint64_t parent);
  void mark_exited(ProcessRecord &rec);
  // Frees `id` if it exited and nothing names it as parent, then its
  // parent likewise.
  void reclaim(uint64_t id);
  void erase(uint64_t id);
  void enforce_bound();

  size_t max_exited_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, ProcessRecord> records_;
  std::unordered_map<uint32_t, uint64_t> live_;  // pid -> running record
  std::deque<uint64_t> exit_order_;  // exited records kept, oldest first
  size_t retained_ = 0;              // exited records still kept
  uint64_t evictions_ = 0;
  uint64_t reclaimed_ = 0;
};

}  // namespace pidtree
