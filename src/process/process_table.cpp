#include "process/process_table.h"

#include <utility>
#include <vector>

namespace pidtree {

namespace {

// A fork event this close to a seeded process's start time is that
// process (the /proc start time has clock-tick resolution).
constexpr uint64_t kSameStartNs = 50'000'000;

}  // namespace

bool same_start(uint64_t a, uint64_t b) {
  return (a > b ? a - b : b - a) < kSameStartNs;
}

ProcessRecord &ProcessTable::add(uint32_t pid, uint32_t ppid, uint64_t parent) {
  uint64_t id = next_id_++;
  ProcessRecord &rec = records_[id];
  rec.id = id;
  rec.pid = pid;
  rec.ppid = ppid;
  rec.parent = parent;
  if (parent != 0)
    ++records_[parent].children;
  live_[pid] = id;
  return rec;
}

void ProcessTable::seed(uint32_t pid, uint32_t ppid, uint32_t uid,
                        std::string cmdline, uint64_t start_ns, bool exited,
                        uint32_t loginuid) {
  if (live_.count(pid))
    return;
  ProcessRecord &rec = add(pid, ppid, 0);
  rec.uid = uid;
  rec.loginuid = loginuid;
  rec.cmdline = std::move(cmdline);
  rec.start_ns = start_ns;
  rec.seeded = true;
  // A zombie is not reclaimed until link_seeded() has counted its children.
  rec.exited = exited;
}

void ProcessTable::link_seeded() {
  for (auto &kv : records_) {
    ProcessRecord &rec = kv.second;
    if (!rec.seeded || rec.parent != 0 || rec.ppid == 0)
      continue;
    auto parent = live_.find(rec.ppid);
    if (parent != live_.end() && parent->second != rec.id) {
      rec.parent = parent->second;
      ++records_[rec.parent].children;
    }
  }
  std::vector<uint64_t> zombies;
  for (const auto &kv : records_)
    if (kv.second.exited)
      zombies.push_back(kv.first);
  for (uint64_t id : zombies) {
    records_[id].exited = false;
    mark_exited(records_[id]);
  }
}

void ProcessTable::fork(uint64_t ts, uint32_t pid, uint32_t ppid, uint32_t uid,
                        bool clone_parent, uint32_t loginuid) {
  auto existing = live_.find(pid);
  if (existing != live_.end()) {
    ProcessRecord &old = records_[existing->second];
    // The /proc scan already saw this very process.
    if (old.seeded && same_start(ts, old.start_ns))
      return;
    // Otherwise its exit was lost: the pid now names a new process.
    mark_exited(old);
  }
  const ProcessRecord *parent = find_live(ppid);
  if (parent && clone_parent)
    parent = get(parent->parent);
  uint64_t parent_id = parent ? parent->id : 0;
  uint32_t parent_pid = parent ? parent->pid : ppid;
  // The child runs the parent's program until it execs.
  std::string cmdline = parent ? parent->cmdline : std::string();
  std::string note = parent ? parent->note : std::string();
  ProcessRecord &rec = add(pid, parent_pid, parent_id);
  rec.uid = uid;
  rec.loginuid = loginuid;
  rec.start_ns = ts;
  rec.cmdline = std::move(cmdline);
  rec.note = std::move(note);
  rec.parent_unknown = parent == nullptr;
}

void ProcessTable::exec(uint32_t pid, uint32_t uid, std::string cmdline,
                        std::string note, uint32_t loginuid) {
  auto it = live_.find(pid);
  ProcessRecord *rec;
  if (it == live_.end()) {
    // Its fork came before the tracer started and it was not in the scan
    // (it started during it), or its fork event was lost.
    rec = &add(pid, 0, 0);
    rec->parent_unknown = true;  // and its start time (start_ns 0)
  } else {
    rec = &records_[it->second];
  }
  rec->uid = uid;
  rec->loginuid = loginuid;
  rec->cmdline = std::move(cmdline);
  rec->note = std::move(note);
  rec->node.reset();
}

void ProcessTable::exit(uint32_t pid) {
  auto it = live_.find(pid);
  if (it == live_.end())
    return;
  mark_exited(records_[it->second]);
}

const ProcessRecord *ProcessTable::set_uid(uint32_t pid, uint32_t uid) {
  auto it = live_.find(pid);
  if (it == live_.end())
    return nullptr;
  auto rec = records_.find(it->second);
  if (rec == records_.end())
    return nullptr;
  if (rec->second.uid != uid) {
    rec->second.uid = uid;
    rec->second.node.reset();
  }
  return &rec->second;
}

void ProcessTable::set_loginuid(uint32_t pid, uint32_t loginuid) {
  auto it = live_.find(pid);
  if (it == live_.end())
    return;
  ProcessRecord &rec = records_[it->second];
  if (rec.loginuid != loginuid) {
    rec.loginuid = loginuid;
    rec.node.reset();
  }
}

const ProcessRecord *ProcessTable::find_live(uint32_t pid) const {
  auto it = live_.find(pid);
  return it == live_.end() ? nullptr : get(it->second);
}

const ProcessRecord *ProcessTable::get(uint64_t id) const {
  auto it = records_.find(id);
  return it == records_.end() ? nullptr : &it->second;
}

void ProcessTable::mark_exited(ProcessRecord &rec) {
  if (rec.exited)
    return;
  rec.exited = true;
  auto it = live_.find(rec.pid);
  if (it != live_.end() && it->second == rec.id)
    live_.erase(it);
  if (rec.children == 0) {
    reclaim(rec.id);
    return;
  }
  rec.retained = true;
  ++retained_;
  exit_order_.push_back(rec.id);
  // Reclaimed records leave exit_order_ lazily; drop them before the
  // queue outgrows what it holds.
  if (exit_order_.size() > 2 * retained_ + 1024) {
    std::deque<uint64_t> kept;
    for (uint64_t id : exit_order_)
      if (records_.count(id))
        kept.push_back(id);
    exit_order_.swap(kept);
  }
  enforce_bound();
}

void ProcessTable::reclaim(uint64_t id) {
  while (id != 0) {
    auto it = records_.find(id);
    if (it == records_.end() || !it->second.exited || it->second.children != 0)
      return;
    uint64_t parent = it->second.parent;
    erase(id);
    ++reclaimed_;
    auto p = records_.find(parent);
    if (p == records_.end())
      return;
    --p->second.children;
    id = parent;
  }
}

void ProcessTable::erase(uint64_t id) {
  auto it = records_.find(id);
  if (it == records_.end())
    return;
  // Retained records sit in exit_order_; they leave it lazily.
  if (it->second.retained)
    --retained_;
  records_.erase(it);
}

void ProcessTable::enforce_bound() {
  while (retained_ > max_exited_ && !exit_order_.empty()) {
    uint64_t id = exit_order_.front();
    exit_order_.pop_front();
    auto it = records_.find(id);
    if (it == records_.end())
      continue;  // already reclaimed
    uint64_t parent = it->second.parent;
    erase(id);
    ++evictions_;
    // Its children keep a dangling parent id: their trees end there.
    auto p = records_.find(parent);
    if (p != records_.end()) {
      --p->second.children;
      reclaim(parent);
    }
  }
}

}  // namespace pidtree
