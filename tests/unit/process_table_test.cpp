#include "process/process_table.h"

#include <gtest/gtest.h>
#include <time.h>

#include "process/ancestry.h"

namespace pidtree {
namespace {

constexpr uint64_t kSec = 1'000'000'000;

// A /proc that holds nothing: the table alone must answer.
class EmptyProc : public ProcessSource {
 public:
  ReadStatus read(uint32_t, ProcessInfo *) override {
    return ReadStatus::kGone;
  }
  uint64_t start_time_ns(uint32_t) override { return 0; }
  std::vector<uint32_t> list_pids() override { return {}; }
};

class NumericUsers : public UserDb {
 public:
  std::string name(uint32_t uid) override {
    return uid == 0 ? "root" : "u" + std::to_string(uid);
  }
};

std::vector<std::pair<uint32_t, std::string>> chain(TableAncestry &resolver,
                                                    uint32_t pid,
                                                    std::string *error) {
  Ancestry a = resolver.resolve(EventTask{pid, 0});
  *error = a.error;
  std::vector<std::pair<uint32_t, std::string>> out;
  for (const auto &n : a.tree)
    out.emplace_back(n.pid, n.cmdline);
  return out;
}

class ProcessTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table.seed(1, 0, 0, "/sbin/init", 1 * kSec, false);
    table.link_seeded();
  }
  ProcessTable table{1000};
  EmptyProc proc;
  NumericUsers users;
  TableAncestry resolver{table, proc, users};
};

TEST_F(ProcessTableTest, ForkInheritsCommandLineUntilExec) {
  table.fork(10 * kSec, 100, 1, 0, false);
  std::string err;
  EXPECT_EQ(chain(resolver, 100, &err),
            (std::vector<std::pair<uint32_t, std::string>>{{100, "/sbin/init"},
                                                           {1, "/sbin/init"}}));
  table.exec(100, 0, "sshd -D", "");
  EXPECT_EQ(chain(resolver, 100, &err)[0].second, "sshd -D");
  EXPECT_EQ(err, "");
}

TEST_F(ProcessTableTest, ExitedAncestorsStayForTheirLiveDescendants) {
  table.fork(10 * kSec, 100, 1, 0, false);
  table.exec(100, 0, "sh -c worker", "");
  table.fork(11 * kSec, 200, 100, 1000, false);
  table.exec(200, 1000, "worker --once", "");
  table.exit(100);  // the shell is gone, its child runs on
  EXPECT_EQ(table.find_live(100), nullptr);
  std::string err;
  EXPECT_EQ(
      chain(resolver, 200, &err),
      (std::vector<std::pair<uint32_t, std::string>>{
          {200, "worker --once"}, {100, "sh -c worker"}, {1, "/sbin/init"}}));
  EXPECT_EQ(err, "");
  EXPECT_EQ(table.retained_exited(), 1u);
}

TEST_F(ProcessTableTest, PidReuseNeverSplicesTrees) {
  table.fork(10 * kSec, 100, 1, 0, false);
  table.exec(100, 0, "original-parent", "");
  table.fork(11 * kSec, 200, 100, 0, false);
  table.exec(200, 0, "child", "");
  table.exit(100);
  // pid 100 comes back as an unrelated process.
  table.fork(12 * kSec, 100, 1, 0, false);
  table.exec(100, 0, "impostor", "");
  std::string err;
  EXPECT_EQ(chain(resolver, 200, &err),
            (std::vector<std::pair<uint32_t, std::string>>{
                {200, "child"}, {100, "original-parent"}, {1, "/sbin/init"}}));
  EXPECT_EQ(chain(resolver, 100, &err),
            (std::vector<std::pair<uint32_t, std::string>>{{100, "impostor"},
                                                           {1, "/sbin/init"}}));
}

TEST_F(ProcessTableTest, ForkOverALivePidMeansItsExitWasLost) {
  table.fork(10 * kSec, 100, 1, 0, false);
  table.exec(100, 0, "old", "");
  table.fork(20 * kSec, 100, 1, 0, false);  // no exit seen for the old one
  table.exec(100, 0, "new", "");
  std::string err;
  EXPECT_EQ(chain(resolver, 100, &err)[0].second, "new");
  // The old record had no children: it is gone, not retained.
  EXPECT_EQ(table.record_count(), 2u);
}

TEST_F(ProcessTableTest, ReclaimsExitedEntriesOnceNothingNeedsThem) {
  for (uint32_t i = 0; i < 10000; ++i) {
    uint32_t sh = 1000 + 2 * (i % 500), prog = sh + 1;
    table.fork(10 * kSec + i, sh, 1, 0, false);
    table.exec(sh, 0, "sh -c prog", "");
    table.fork(10 * kSec + i, prog, sh, 0, false);
    table.exec(prog, 0, "prog " + std::to_string(i), "");
    // The shell exits first: kept for its child, then both go.
    table.exit(sh);
    EXPECT_EQ(table.retained_exited(), 1u);
    table.exit(prog);
  }
  EXPECT_EQ(table.record_count(), 1u);  // init
  EXPECT_EQ(table.retained_exited(), 0u);
  EXPECT_EQ(table.reclaimed(), 20000u);
  EXPECT_EQ(table.evictions(), 0u);
}

TEST_F(ProcessTableTest, BoundEvictsOldestExitedAndSaysSo) {
  ProcessTable small(2);
  small.seed(1, 0, 0, "init", kSec, false);
  small.link_seeded();
  // Three daemons whose launching shells have exited: three retained.
  for (uint32_t i = 0; i < 3; ++i) {
    uint32_t sh = 100 + i, daemon = 200 + i;
    small.fork(10 * kSec, sh, 1, 0, false);
    small.exec(sh, 0, "launcher " + std::to_string(i), "");
    small.fork(10 * kSec, daemon, sh, 0, false);
    small.exit(sh);
  }
  EXPECT_EQ(small.retained_exited(), 2u);
  EXPECT_EQ(small.evictions(), 1u);
  TableAncestry r(small, proc, users);
  std::string err;
  auto first = chain(r, 200, &err);  // its launcher was the oldest exit
  ASSERT_EQ(first.size(), 1u);
  EXPECT_NE(err.find("evicted"), std::string::npos) << err;
  auto last = chain(r, 202, &err);
  EXPECT_EQ(last.size(), 3u);
  EXPECT_EQ(err, "");
}

TEST_F(ProcessTableTest, MemoryStaysFlatOverManyShortProcesses) {
  // Queue of retained ids must not grow with reclaimed ones.
  for (uint32_t i = 0; i < 200000; ++i) {
    table.fork(10 * kSec, 500, 1, 0, false);
    table.fork(10 * kSec, 501, 500, 0, false);
    table.exit(500);
    table.exit(501);
  }
  EXPECT_EQ(table.record_count(), 1u);
}

TEST_F(ProcessTableTest, SeedAndForkOfTheSameProcessAreOne) {
  ProcessTable t;
  t.seed(1, 0, 0, "init", kSec, false);
  t.seed(300, 1, 0, "seeded", 50 * kSec, false);
  t.link_seeded();
  // Its fork event was already in the buffer when /proc was read.
  t.fork(50 * kSec + 3'000'000, 300, 1, 0, false);
  TableAncestry r(t, proc, users);
  std::string err;
  EXPECT_EQ(chain(r, 300, &err)[0].second, "seeded");
  EXPECT_EQ(t.record_count(), 2u);
}

TEST_F(ProcessTableTest, ZombiesFromTheScanAreKeptOnlyForChildren) {
  ProcessTable t;
  t.seed(1, 0, 0, "init", kSec, false);
  t.seed(40, 1, 0, "[zombie-with-child]", kSec, true);
  t.seed(41, 40, 0, "child", kSec, false);
  t.seed(50, 1, 0, "[lonely-zombie]", kSec, true);
  t.link_seeded();
  EXPECT_EQ(t.find_live(40), nullptr);
  EXPECT_EQ(t.find_live(50), nullptr);
  EXPECT_EQ(t.record_count(), 3u);  // init, 40 (for 41), 41
  TableAncestry r(t, proc, users);
  std::string err;
  EXPECT_EQ(chain(r, 41, &err).size(), 3u);
}

TEST_F(ProcessTableTest, CloneParentMakesASibling) {
  table.fork(10 * kSec, 100, 1, 0, false);
  table.exec(100, 0, "runner", "");
  table.fork(11 * kSec, 101, 100, 0, true);
  std::string err;
  auto c = chain(resolver, 101, &err);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[1].first, 1u);
}

TEST_F(ProcessTableTest, UnknownProcessFallsBackToProcAndSaysSo) {
  std::string err;
  EXPECT_TRUE(chain(resolver, 4242, &err).empty());
  EXPECT_NE(err.find("not in the process table"), std::string::npos) << err;
}

TEST_F(ProcessTableTest, ExecWithoutForkMarksTheParentUnknown) {
  table.exec(777, 0, "mystery", "");
  std::string err;
  auto c = chain(resolver, 777, &err);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].second, "mystery");
  EXPECT_NE(err.find("parent of process 777 is unknown"), std::string::npos);
}

TEST_F(ProcessTableTest, UidChangesShowInTheTree) {
  table.fork(10 * kSec, 100, 1, 0, false);
  EXPECT_EQ(table.set_uid(100, 1000), table.find_live(100));
  EXPECT_EQ(table.find_live(100)->uid, 1000u);
  EXPECT_EQ(table.set_uid(4242, 1000), nullptr);  // nothing runs there
  EventTask ev{100, 1000};
  EXPECT_EQ(resolver.resolve(ev).tree[0].username, "u1000");
}

// Without set*uid() events, a uid change is learnt from what the process
// does next: connect (its own node) or fork (news of the forking process).
TEST_F(ProcessTableTest, UidFromConnectAndForkEvents) {
  table.fork(10 * kSec, 100, 1, 0, false);
  EventTask ev{100, 1000};
  EXPECT_EQ(resolver.resolve(ev).tree[0].username, "u1000");
  ProcEvent fork;
  fork.kind = ProcEvent::Kind::kFork;
  fork.ts_boot_ns = 11 * kSec;
  fork.pid = 101;
  fork.ppid = 100;
  fork.uid = 65534;
  resolver.apply(fork);
  ev.pid = 101;
  ev.uid = 65534;
  Ancestry a = resolver.resolve(ev);
  ASSERT_GE(a.tree.size(), 2u);
  EXPECT_EQ(a.tree[0].username, "u65534");
  EXPECT_EQ(a.tree[1].username, "u65534");
  EXPECT_EQ(a.tree[1].pid, 100u);
}

// Names that change (a renamed user) and an epoch moved by hand.
class RenamingUsers : public UserDb {
 public:
  std::string name(uint32_t uid) override {
    ++asked;
    return prefix + std::to_string(uid);
  }
  uint64_t epoch() override { return now; }
  std::string prefix = "old";
  uint64_t now = 7;
  int asked = 0;
};

TEST(TableAncestryNames, KeptNodesAskForNamesAgainOnceTheEpochMovesOn) {
  ProcessTable table{1000};
  table.seed(1, 0, 0, "/sbin/init", 1 * kSec, false);
  table.link_seeded();
  table.fork(10 * kSec, 100, 1, 1000, false);
  EmptyProc proc;
  RenamingUsers users;
  TableAncestry resolver{table, proc, users};
  EventTask ev{100, 1000};
  EXPECT_EQ(resolver.resolve(ev).tree[0].username, "old1000");
  EXPECT_EQ(users.asked, 2);
  users.prefix = "new";
  // Same epoch: the nodes (and their names) are reused.
  EXPECT_EQ(resolver.resolve(ev).tree[0].username, "old1000");
  EXPECT_EQ(users.asked, 2);
  users.now = 8;
  Ancestry a = resolver.resolve(ev);
  EXPECT_EQ(a.tree[0].username, "new1000");
  EXPECT_EQ(a.tree[1].username, "new0");
  EXPECT_EQ(users.asked, 4);
}

uint64_t coarse_periods(std::chrono::seconds ttl) {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(
      (std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)) /
      ttl);
}

TEST(PasswdUserDbEpoch, CountsPeriodsOfTheTtlOnTheMonotonicClock) {
  using std::chrono::seconds;
  for (seconds ttl : {seconds(3600), seconds(1)}) {
    PasswdUserDb db(ttl);
    uint64_t before = coarse_periods(ttl);
    uint64_t e = db.epoch();
    uint64_t after = coarse_periods(ttl);
    EXPECT_TRUE(e == before || e == after) << e;
  }
}

}  // namespace
}  // namespace pidtree
