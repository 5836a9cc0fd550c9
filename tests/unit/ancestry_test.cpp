// ProcAncestry: walking parent pids through a ProcessSource.
#include "process/ancestry.h"

#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

namespace pidtree {
namespace {

class FakeProcesses : public ProcessSource {
 public:
  void add(uint32_t pid, uint32_t ppid, uint32_t uid, std::string cmdline) {
    ProcessInfo info;
    info.pid = pid;
    info.ppid = ppid;
    info.uid = uid;
    info.name = "n" + std::to_string(pid);
    info.cmdline = std::move(cmdline);
    procs_[pid] = info;
  }
  void unreadable(uint32_t pid) { unreadable_.push_back(pid); }
  void zombie(uint32_t pid) {
    procs_[pid].exited = true;
    procs_[pid].cmdline = "[" + procs_[pid].name + "]";
  }

  ReadStatus read(uint32_t pid, ProcessInfo *out) override {
    reads.push_back(pid);
    for (uint32_t u : unreadable_)
      if (u == pid)
        return ReadStatus::kUnreadable;
    auto it = procs_.find(pid);
    if (it == procs_.end())
      return ReadStatus::kGone;
    *out = it->second;
    return ReadStatus::kOk;
  }
  uint64_t start_time_ns(uint32_t pid) override {
    return procs_.count(pid) ? 1000 + pid : 0;
  }
  std::vector<uint32_t> list_pids() override {
    std::vector<uint32_t> out;
    for (const auto &kv : procs_)
      out.push_back(kv.first);
    return out;
  }

  std::vector<uint32_t> reads;

 private:
  std::map<uint32_t, ProcessInfo> procs_;
  std::vector<uint32_t> unreadable_;
};

class FakeUsers : public UserDb {
 public:
  std::string name(uint32_t uid) override {
    if (uid == 0)
      return "root";
    if (uid == 1000)
      return "alice";
    return std::to_string(uid);
  }
};

EventTask event_for(uint32_t pid) {
  // The uid is not what the tree's usernames come from.
  return EventTask{pid, 12345};
}

std::vector<uint32_t> pids(const Ancestry &a) {
  std::vector<uint32_t> out;
  for (const auto &n : a.tree)
    out.push_back(n.pid);
  return out;
}

TEST(ProcAncestry, FullChainToInit) {
  FakeProcesses procs;
  procs.add(1, 0, 0, "/sbin/init");
  procs.add(50, 1, 0, "sshd: /usr/sbin/sshd -D");
  procs.add(700, 50, 1000, "-bash");
  procs.add(900, 700, 1000, "curl https://example.com");
  FakeUsers users;
  ProcAncestry walker(procs, users);
  Ancestry a = walker.resolve(event_for(900));
  EXPECT_EQ(a.error, "");
  ASSERT_EQ(pids(a), (std::vector<uint32_t>{900, 700, 50, 1}));
  EXPECT_EQ(a.tree[0].cmdline, "curl https://example.com");
  EXPECT_EQ(a.tree[0].username, "alice");
  EXPECT_EQ(a.tree[1].cmdline, "-bash");
  EXPECT_EQ(a.tree[2].username, "root");
  EXPECT_EQ(a.tree[3].cmdline, "/sbin/init");
  EXPECT_EQ(a.tree[3].username, "root");
  // Stops at pid 1 without asking for its parent.
  EXPECT_EQ(procs.reads, (std::vector<uint32_t>{900, 700, 50, 1}));
}

TEST(ProcAncestry, StopsAtPid1EvenIfItClaimsAParent) {
  FakeProcesses procs;
  procs.add(1, 77, 0, "init");  // a container's pid 1 seen from outside
  procs.add(77, 0, 0, "outer");
  procs.add(5, 1, 0, "app");
  FakeUsers users;
  Ancestry a = ProcAncestry(procs, users).resolve(event_for(5));
  EXPECT_EQ(a.error, "");
  EXPECT_EQ(pids(a), (std::vector<uint32_t>{5, 1}));
}

TEST(ProcAncestry, PpidZeroStops) {
  // kthreadd (pid 2) has ppid 0; so does anything whose parent is outside
  // the pid namespace.
  FakeProcesses procs;
  procs.add(2, 0, 0, "[kthreadd]");
  procs.add(300, 2, 0, "[kworker/0:1]");
  FakeUsers users;
  Ancestry a = ProcAncestry(procs, users).resolve(event_for(300));
  EXPECT_EQ(a.error, "");
  EXPECT_EQ(pids(a), (std::vector<uint32_t>{300, 2}));
  EXPECT_EQ(procs.reads, (std::vector<uint32_t>{300, 2}));
}

TEST(ProcAncestry, ProcessVanishingMidwayKeepsPartialTree) {
  FakeProcesses procs;
  procs.add(1, 0, 0, "/sbin/init");
  procs.add(900, 700, 1000, "curl x");
  procs.add(700, 650, 1000, "bash");  // 650 has exited
  FakeUsers users;
  Ancestry a = ProcAncestry(procs, users).resolve(event_for(900));
  EXPECT_EQ(pids(a), (std::vector<uint32_t>{900, 700}));
  EXPECT_NE(a.error.find("650"), std::string::npos) << a.error;
  EXPECT_NE(a.error.find("exited"), std::string::npos) << a.error;
  EXPECT_EQ(a.error.find("connecting"), std::string::npos) << a.error;
  EXPECT_EQ(a.error.find('\n'), std::string::npos);
}

TEST(ProcAncestry, UnreadableMidwayKeepsPartialTree) {
  FakeProcesses procs;
  procs.add(1, 0, 0, "/sbin/init");
  procs.add(650, 1, 0, "hidden");
  procs.add(700, 650, 1000, "bash");
  procs.unreadable(650);
  FakeUsers users;
  Ancestry a = ProcAncestry(procs, users).resolve(event_for(700));
  EXPECT_EQ(pids(a), (std::vector<uint32_t>{700}));
  EXPECT_NE(a.error.find("650"), std::string::npos) << a.error;
  EXPECT_NE(a.error.find("unreadable"), std::string::npos) << a.error;
}

TEST(ProcAncestry, ConnectingProcessGone) {
  FakeProcesses procs;
  procs.add(1, 0, 0, "/sbin/init");
  FakeUsers users;
  Ancestry a = ProcAncestry(procs, users).resolve(event_for(4321));
  EXPECT_TRUE(a.tree.empty());
  EXPECT_NE(a.error.find("the event's process 4321"), std::string::npos)
      << a.error;
  EXPECT_NE(a.error.find("exited"), std::string::npos) << a.error;
}

TEST(ProcAncestry, LoopTerminatesWithError) {
  // Pid reuse during the walk: a -> b -> a.
  FakeProcesses procs;
  procs.add(10, 20, 0, "a");
  procs.add(20, 10, 0, "b");
  FakeUsers users;
  Ancestry a = ProcAncestry(procs, users).resolve(event_for(10));
  EXPECT_EQ(pids(a), (std::vector<uint32_t>{10, 20}));
  EXPECT_NE(a.error.find("loops"), std::string::npos) << a.error;
  EXPECT_NE(a.error.find("10"), std::string::npos) << a.error;
  EXPECT_LE(procs.reads.size(), 3u);
}

TEST(ProcAncestry, SelfParentLoop) {
  FakeProcesses procs;
  procs.add(33, 33, 0, "self");
  FakeUsers users;
  Ancestry a = ProcAncestry(procs, users).resolve(event_for(33));
  EXPECT_EQ(pids(a), (std::vector<uint32_t>{33}));
  EXPECT_NE(a.error.find("loops at pid 33"), std::string::npos) << a.error;
}

TEST(ProcAncestry, VeryDeepChainIsBounded) {
  FakeProcesses procs;
  // 5000 distinct processes, each the parent of the next; never reaches 1.
  for (uint32_t pid = 100; pid < 5100; ++pid)
    procs.add(pid, pid + 1, 0, "p");
  FakeUsers users;
  Ancestry a = ProcAncestry(procs, users).resolve(event_for(100));
  EXPECT_FALSE(a.error.empty());
  EXPECT_LT(a.tree.size(), 5000u);
  EXPECT_GT(a.tree.size(), 100u);
}

TEST(ProcAncestry, ZombieMidwayIsFlaggedButTheWalkGoesOn) {
  // A parent that exited but was not reaped yet still names its parent.
  FakeProcesses procs;
  procs.add(1, 0, 0, "/sbin/init");
  procs.add(600, 1, 1000, "sh");
  procs.add(650, 600, 1000, "sh -c curl");
  procs.add(700, 650, 1000, "curl x");
  procs.zombie(650);
  FakeUsers users;
  Ancestry a = ProcAncestry(procs, users).resolve(event_for(700));
  EXPECT_EQ(pids(a), (std::vector<uint32_t>{700, 650, 600, 1}));
  EXPECT_EQ(a.tree[1].cmdline, "[n650]");
  EXPECT_NE(a.error.find("650"), std::string::npos) << a.error;
  EXPECT_NE(a.error.find("exited"), std::string::npos) << a.error;
}

TEST(ProcAncestry, ZombieConnectingProcess) {
  FakeProcesses procs;
  procs.add(1, 0, 0, "/sbin/init");
  procs.add(800, 1, 0, "x");
  procs.zombie(800);
  FakeUsers users;
  Ancestry a = ProcAncestry(procs, users).resolve(event_for(800));
  EXPECT_EQ(pids(a), (std::vector<uint32_t>{800, 1}));
  EXPECT_NE(a.error.find("800"), std::string::npos) << a.error;
}

TEST(ProcAncestry, NoErrorWithoutZombies) {
  FakeProcesses procs;
  procs.add(1, 0, 0, "/sbin/init");
  procs.add(2, 1, 0, "x");
  FakeUsers users;
  EXPECT_EQ(ProcAncestry(procs, users).resolve(event_for(2)).error, "");
}

TEST(ProcAncestry, AgainstTheFixtureProcTree) {
  // The real ProcFs over tests/unit/fixtures/proc: 500 (zombie) -> 100 -> 1.
  ProcFs proc(std::string(PIDTREE_FIXTURES) + "/proc");
  FakeUsers users;
  Ancestry a = ProcAncestry(proc, users).resolve(event_for(500));
  ASSERT_EQ(pids(a), (std::vector<uint32_t>{500, 100, 1}));
  EXPECT_EQ(a.tree[0].cmdline, "[defunct-child]");
  EXPECT_EQ(a.tree[1].cmdline, "tmux new-session -s work");
  EXPECT_EQ(a.tree[1].username, "alice");
  EXPECT_EQ(a.tree[2].cmdline, "/sbin/init splash");
  EXPECT_EQ(a.tree[2].username, "root");
  EXPECT_NE(a.error.find("500"), std::string::npos) << a.error;

  // 200 -> 100 -> 1 with hostile bytes passed through untouched.
  Ancestry h = ProcAncestry(proc, users).resolve(event_for(200));
  ASSERT_EQ(pids(h), (std::vector<uint32_t>{200, 100, 1}));
  EXPECT_EQ(h.error, "");
  EXPECT_NE(h.tree[0].cmdline.find('\n'), std::string::npos);
}

TEST(PasswdUserDb, UnknownUidIsNumeric) {
  PasswdUserDb db;
  EXPECT_EQ(db.name(4123456789u), "4123456789");
  EXPECT_EQ(db.name(4123456789u), "4123456789");  // cached
}

TEST(PasswdUserDb, MatchesGetpwuid) {
  PasswdUserDb db;
  uid_t me = ::getuid();
  struct passwd *pw = ::getpwuid(me);
  std::string want = pw ? pw->pw_name : std::to_string(me);
  EXPECT_EQ(db.name(me), want);
}

TEST(ProcAncestry, UsernamesFromUserDbPerNode) {
  FakeProcesses procs;
  procs.add(1, 0, 0, "init");
  procs.add(2000, 1, 1000, "su");
  procs.add(2001, 2000, 4242, "id");
  FakeUsers users;
  Ancestry a = ProcAncestry(procs, users).resolve(event_for(2001));
  ASSERT_EQ(a.tree.size(), 3u);
  EXPECT_EQ(a.tree[0].username, "4242");
  EXPECT_EQ(a.tree[1].username, "alice");
  EXPECT_EQ(a.tree[2].username, "root");
}

}  // namespace
}  // namespace pidtree

namespace pidtree {
namespace {

TEST(ProcAncestry, EveryProblemIsKeptInOrder) {
  // A zombie parent, then a grandparent that is gone altogether.
  FakeProcesses procs;
  procs.add(650, 600, 0, "sh -c curl");
  procs.add(700, 650, 0, "curl x");
  procs.zombie(650);
  FakeUsers users;
  Ancestry a = ProcAncestry(procs, users).resolve(event_for(700));
  EXPECT_EQ(pids(a), (std::vector<uint32_t>{700, 650}));
  size_t zombie = a.error.find("process 650 exited before its command line");
  size_t gone = a.error.find("process 600 exited before its ancestry");
  ASSERT_NE(zombie, std::string::npos) << a.error;
  ASSERT_NE(gone, std::string::npos) << a.error;
  EXPECT_LT(zombie, gone);
}

}  // namespace
}  // namespace pidtree
