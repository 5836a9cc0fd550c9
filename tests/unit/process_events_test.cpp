// Process events end to end without a kernel: decoding the BPF records,
// seeding from a /proc tree, and the tracer handling them in time order.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "event.h"
#include "fake_clock.h"
#include "kernel/program.h"
#include "pipeline/tracer.h"
#include "probes/events.h"
#include "process/ancestry.h"
#include "process/process_table.h"
#include "process/procfs.h"

namespace pidtree {
namespace {

std::string exec_record(uint32_t pid, const std::string &args,
                        uint32_t flags = 0) {
  pidtree_exec_event ev{};
  ev.ts_boot_ns = 77;
  ev.kind = PIDTREE_EVENT_PROC_EXEC;
  ev.pid = pid;
  ev.uid = 1000;
  ev.flags = flags;
  ev.args_len = static_cast<uint32_t>(args.size());
  std::memcpy(ev.args, args.data(), args.size());
  return std::string(reinterpret_cast<const char *>(&ev),
                     offsetof(pidtree_exec_event, args) + args.size());
}

std::string proc_record(uint32_t kind, uint64_t ts, uint32_t pid, uint32_t ppid,
                        uint32_t flags = 0) {
  pidtree_proc_event ev{};
  ev.ts_boot_ns = ts;
  ev.kind = kind;
  ev.pid = pid;
  ev.ppid = ppid;
  ev.uid = 0;
  ev.flags = flags;
  return std::string(reinterpret_cast<const char *>(&ev), sizeof(ev));
}

std::string connect_record(uint64_t ts, uint32_t pid) {
  pidtree_connect_event ev{};
  ev.ts_boot_ns = ts;
  ev.kind = PIDTREE_EVENT_TCP_CONNECT;
  ev.pid = ev.tid = pid;
  ev.family = 2;
  ev.dport = 443;
  ev.daddr[0] = 198;
  ev.daddr[1] = 51;
  ev.daddr[2] = 100;
  ev.daddr[3] = 7;
  std::memcpy(ev.comm, "curl", 4);
  return std::string(reinterpret_cast<const char *>(&ev), sizeof(ev));
}

TEST(DecodeProcEvents, ExecJoinsArgvAndMarksCuts) {
  std::string raw = exec_record(42, std::string("curl\0-s\0https://x\0", 19));
  auto ev = decode_event(raw.data(), raw.size());
  ASSERT_TRUE(ev);
  const auto &p = std::get<ProcEvent>(*ev);
  EXPECT_EQ(p.kind, ProcEvent::Kind::kExec);
  EXPECT_EQ(p.pid, 42u);
  EXPECT_EQ(p.uid, 1000u);
  EXPECT_EQ(p.cmdline, "curl -s https://x");
  EXPECT_EQ(event_time(*ev), 77u);

  raw = exec_record(42, std::string("a\0bbbb", 6), PIDTREE_EXEC_ARGS_CUT);
  ev = decode_event(raw.data(), raw.size());
  ASSERT_TRUE(ev);
  EXPECT_EQ(std::get<ProcEvent>(*ev).cmdline,
            std::string("a bbbb") + kCmdlineCutMarker);

  raw = exec_record(42, std::string("/usr/sbin/modprobe\0", 19),
                    PIDTREE_EXEC_NO_ARGV);
  ev = decode_event(raw.data(), raw.size());
  ASSERT_TRUE(ev);
  EXPECT_TRUE(std::get<ProcEvent>(*ev).argv_missing);
  EXPECT_EQ(std::get<ProcEvent>(*ev).cmdline, "/usr/sbin/modprobe");
}

TEST(DecodeProcEvents, RejectsShortOrLyingRecords) {
  std::string raw = exec_record(42, "abc");
  // Claims more argv bytes than the record holds.
  EXPECT_FALSE(decode_event(raw.data(), raw.size() - 1));
  pidtree_exec_event big{};
  big.kind = PIDTREE_EVENT_PROC_EXEC;
  big.args_len = PIDTREE_ARGS_SIZE + 1;
  EXPECT_FALSE(decode_event(&big, sizeof(big)));
  raw = proc_record(PIDTREE_EVENT_PROC_FORK, 1, 2, 3);
  EXPECT_FALSE(decode_event(raw.data(), raw.size() - 4));
  raw = proc_record(99, 1, 2, 3);
  EXPECT_FALSE(decode_event(raw.data(), raw.size()));
  EXPECT_FALSE(decode_event(raw.data(), 4));
}

TEST(DecodeProcEvents, ForkExitUid) {
  std::string raw = proc_record(PIDTREE_EVENT_PROC_FORK, 5, 20, 10,
                                PIDTREE_FORK_CLONE_PARENT);
  auto ev = decode_event(raw.data(), raw.size());
  ASSERT_TRUE(ev);
  const auto &f = std::get<ProcEvent>(*ev);
  EXPECT_EQ(f.kind, ProcEvent::Kind::kFork);
  EXPECT_EQ(f.pid, 20u);
  EXPECT_EQ(f.ppid, 10u);
  EXPECT_TRUE(f.clone_parent);
  raw = proc_record(PIDTREE_EVENT_PROC_EXIT, 5, 20, 0);
  EXPECT_EQ(std::get<ProcEvent>(*decode_event(raw.data(), raw.size())).kind,
            ProcEvent::Kind::kExit);
  raw = proc_record(PIDTREE_EVENT_PROC_UID, 5, 20, 0);
  EXPECT_EQ(std::get<ProcEvent>(*decode_event(raw.data(), raw.size())).kind,
            ProcEvent::Kind::kUid);
}

TEST(ParseStatStartTicks, CommWithSpacesAndParens) {
  uint64_t ticks = 0;
  std::string stat =
      "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 "
      "0 98765 1000000 200 18446744073709551615";
  ASSERT_TRUE(parse_stat_start_ticks(stat, &ticks));
  EXPECT_EQ(ticks, 98765u);
  EXPECT_FALSE(parse_stat_start_ticks("1234 (x) S 1 2", &ticks));
  EXPECT_FALSE(parse_stat_start_ticks("no parens at all", &ticks));
  EXPECT_FALSE(parse_stat_start_ticks(
      "1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9x9 1", &ticks));
}

class TempProc {
 public:
  TempProc() {
    char tmpl[] = "/tmp/pidtree-proc-XXXXXX";
    root_ = mkdtemp(tmpl);
  }
  ~TempProc() { std::filesystem::remove_all(root_); }
  void add(uint32_t pid, uint32_t ppid, const std::string &argv0,
           uint64_t start_ticks, char state = 'S') {
    std::string dir = root_ + "/" + std::to_string(pid);
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/status")
        << "Name:\t" << argv0 << "\nState:\t" << state << " (x)\nPPid:\t"
        << ppid << "\nUid:\t0\t0\t0\t0\n";
    std::ofstream(dir + "/cmdline") << argv0 << '\0' << "--flag" << '\0';
    std::ofstream(dir + "/stat")
        << pid << " (" << argv0 << ") " << state << " " << ppid
        << " 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 " << start_ticks << " 0 0";
  }
  const std::string &root() const { return root_; }

 private:
  std::string root_;
};

class NameUsers : public UserDb {
 public:
  std::string name(uint32_t uid) override { return "u" + std::to_string(uid); }
};

TEST(TableAncestry, SeedsFromProcThenFollowsEvents) {
  TempProc proc;
  proc.add(1, 0, "init", 1);
  proc.add(50, 1, "sshd", 100);
  proc.add(60, 50, "bash", 200);
  std::filesystem::create_directories(proc.root() + "/self");  // not a pid
  ProcFs fs(proc.root());
  EXPECT_EQ(
      fs.start_time_ns(50),
      100 * (1000000000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK))));
  ProcessTable table;
  NameUsers users;
  TableAncestry ancestry(table, fs, users);
  ancestry.seed();
  EXPECT_EQ(table.live_count(), 3u);

  ProcEvent fork;
  fork.kind = ProcEvent::Kind::kFork;
  fork.pid = 70;
  fork.ppid = 60;
  ancestry.apply(fork);
  ProcEvent exec;
  exec.kind = ProcEvent::Kind::kExec;
  exec.pid = 70;
  exec.cmdline = "curl https://example.invalid";
  ancestry.apply(exec);
  ConnectEvent ev;
  ev.pid = 70;
  Ancestry a = ancestry.resolve(ev.task());
  ASSERT_EQ(a.tree.size(), 4u);
  EXPECT_EQ(a.tree[0].cmdline, "curl https://example.invalid");
  EXPECT_EQ(a.tree[1].cmdline, "bash --flag");
  EXPECT_EQ(a.tree[2].cmdline, "sshd --flag");
  EXPECT_EQ(a.tree[3].pid, 1u);
  EXPECT_EQ(a.error, "");

  // The whole chain exits; the tree of an earlier connect stays answerable
  // only while someone needs it: here nobody does, so all is reclaimed.
  for (uint32_t pid : {70u, 60u, 50u}) {
    ProcEvent exit;
    exit.kind = ProcEvent::Kind::kExit;
    exit.pid = pid;
    ancestry.apply(exit);
  }
  EXPECT_EQ(table.record_count(), 1u);
}

TEST(TableAncestry, ResyncDropsProcessesWhoseExitWasLost) {
  TempProc proc;
  proc.add(1, 0, "init", 1);
  proc.add(50, 1, "daemon", 100);
  ProcFs fs(proc.root());
  ProcessTable table;
  NameUsers users;
  TableAncestry ancestry(table, fs, users);
  ancestry.seed();
  std::filesystem::remove_all(proc.root() + "/50");
  ancestry.resync();
  EXPECT_EQ(table.find_live(50), nullptr);
  EXPECT_NE(table.find_live(1), nullptr);
}

// Counts lines written to a temp file.
class FileSink {
 public:
  FileSink() {
    char tmpl[] = "/tmp/pidtree-out-XXXXXX";
    fd_ = mkstemp(tmpl);
    path_ = tmpl;
  }
  ~FileSink() {
    close(fd_);
    unlink(path_.c_str());
  }
  int fd() const { return fd_; }
  std::vector<nlohmann::json> lines() const {
    std::ifstream in(path_);
    std::vector<nlohmann::json> out;
    std::string line;
    while (std::getline(in, line))
      out.push_back(nlohmann::json::parse(line));
    return out;
  }

 private:
  int fd_;
  std::string path_;
};

TEST(TracerOrdering, ProcessEventsApplyInKernelTimeOrder) {
  TempProc proc;
  proc.add(1, 0, "init", 1);
  ProcFs fs(proc.root());
  ProcessTable table;
  NameUsers users;
  TableAncestry ancestry(table, fs, users);
  ancestry.seed();
  FileSink file;
  OutputSink sink(file.fd());
  pidtree::testing::FakeClock clock;
  Tracer tracer(ancestry, users, clock, sink, &ancestry);

  // Delivered CPU by CPU: the connect (t=300) and the exec that follows it
  // (t=400) arrive before the fork (t=100) and the first exec (t=200).
  for (const std::string &rec :
       {connect_record(300, 70), exec_record(70, std::string("sleep\0", 6)),
        proc_record(PIDTREE_EVENT_PROC_FORK, 100, 70, 1),
        exec_record(70, std::string("curl\0x\0", 7))}) {
    std::string r = rec;
    // exec_record stamps 77; give the two execs their times.
    if (rec.size() > sizeof(pidtree_proc_event) &&
        std::memcmp(rec.data() + offsetof(pidtree_exec_event, args), "sleep",
                    5) == 0) {
      uint64_t ts = 400;
      std::memcpy(&r[0], &ts, 8);
    } else if (rec.size() > sizeof(pidtree_proc_event) &&
               std::memcmp(rec.data() + offsetof(pidtree_exec_event, args),
                           "curl", 4) == 0) {
      uint64_t ts = 200;
      std::memcpy(&r[0], &ts, 8);
    }
    tracer.on_sample(r.data(), r.size());
  }
  tracer.begin_batch();
  ASSERT_TRUE(tracer.end_batch(250));  // only the fork and first exec
  EXPECT_TRUE(file.lines().empty());
  EXPECT_EQ(tracer.held(), 2u);
  ASSERT_TRUE(tracer.end_batch(UINT64_MAX));
  auto lines = file.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["proctree"][0]["cmdline"], "curl x");
  EXPECT_EQ(lines[0]["proctree"][1]["pid"], 1);
  EXPECT_EQ(lines[0]["error"], "");
}

TEST(Program, ProcessEventsAreCompiledInOnlyWhenAsked) {
  ProgramShape shape;
  EXPECT_EQ(ProgramBuilder(shape).text().find("task_newtask"),
            std::string::npos);
  shape.process_events = true;
  std::string text = ProgramBuilder(shape).text();
  EXPECT_NE(text.find("TRACEPOINT_PROBE(task, task_newtask)"),
            std::string::npos);
  EXPECT_NE(text.find("#define PIDTREE_HAVE_GROUP_DEAD 0"), std::string::npos);
  shape.have_group_dead = true;
  EXPECT_NE(
      ProgramBuilder(shape).text().find("#define PIDTREE_HAVE_GROUP_DEAD 1"),
      std::string::npos);
}

}  // namespace
}  // namespace pidtree
