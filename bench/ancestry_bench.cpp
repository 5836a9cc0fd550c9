// Ancestry cost per event: the kernel-fed process table against a walk of
// /proc, on a real chain of live processes, and the table's memory per
// tracked process. No root needed.
//
//   build/bench/ancestry_bench [rounds]
//
// Prints the median of `rounds` (default 7) rounds of each measurement.
#include <malloc.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "process/ancestry.h"
#include "process/process_table.h"
#include "process/procfs.h"
#include "process/users.h"

using namespace pidtree;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Bytes the heap has handed out (not what the allocator keeps cached).
size_t heap_in_use() { return mallinfo2().uordblks; }

// One level of the process chain: this binary re-run as
// `ancestry_bench --chain N --service=... --config=...`, which starts level
// N-1 and waits; level 1 sleeps. Returns only in the benchmark process.
void run_chain_level(const char *self, int level) {
  if (level <= 1) {
    pause();
    _exit(0);
  }
  pid_t child = fork();
  if (child == 0) {
    std::string n = std::to_string(level - 1);
    std::string service = "--service=payments-worker-" + n;
    execl(self, self, "--chain", n.c_str(), service.c_str(),
          "--config=/etc/payments/worker.yaml", static_cast<char *>(nullptr));
    _exit(127);
  }
  waitpid(child, nullptr, 0);
  _exit(0);
}

// Starts a chain of `depth` processes below this one; returns the deepest
// pid, found through /proc, and the first level in *outer.
pid_t start_chain(const char *self, int depth, pid_t *outer) {
  pid_t child = fork();
  if (child == 0) {
    std::string n = std::to_string(depth);
    execl(self, self, "--chain", n.c_str(), "--service=payments-api",
          "--config=/etc/payments/api.yaml", static_cast<char *>(nullptr));
    _exit(127);
  }
  *outer = child;
  ProcFs procfs;
  for (int tries = 0; tries < 500; ++tries) {
    usleep(10000);
    uint32_t pid = static_cast<uint32_t>(child);
    int found = 1;
    // Follow the only child of each level down.
    for (bool more = true; more && found < depth;) {
      more = false;
      for (uint32_t p : procfs.list_pids()) {
        ProcessInfo info;
        if (procfs.read(p, &info) == ReadStatus::kOk && info.ppid == pid &&
            info.cmdline.find("--chain") != std::string::npos) {
          pid = p;
          ++found;
          more = true;
          break;
        }
      }
    }
    if (found == depth)
      return static_cast<pid_t>(pid);
  }
  return -1;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc > 2 && std::string(argv[1]) == "--chain")
    run_chain_level(argv[0], std::atoi(argv[2]));
  int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
  constexpr int kDepth = 6;
  constexpr int kLookups = 2000;

  pid_t outer = 0;
  pid_t leaf = start_chain(argv[0], kDepth, &outer);
  if (leaf < 0) {
    std::fprintf(stderr, "could not start the process chain\n");
    return 1;
  }
  ProcFs procfs;
  PasswdUserDb users;
  ProcAncestry proc_walk(procfs, users);
  ProcessTable table;
  TableAncestry from_table(table, procfs, users);
  from_table.seed();

  EventTask ev{static_cast<uint32_t>(leaf), 0};
  size_t depth_seen = proc_walk.resolve(ev).tree.size();
  size_t depth_table = from_table.resolve(ev).tree.size();

  auto time_per_call = [&](AncestryResolver &r) {
    auto t0 = std::chrono::steady_clock::now();
    size_t nodes = 0;
    for (int i = 0; i < kLookups; ++i)
      nodes += r.resolve(ev).tree.size();
    auto t1 = std::chrono::steady_clock::now();
    if (nodes == 0)
      std::abort();
    return std::chrono::duration<double, std::micro>(t1 - t0).count() /
           kLookups;
  };
  std::vector<double> proc_us, table_us;
  for (int r = 0; r < rounds; ++r) {
    proc_us.push_back(time_per_call(proc_walk));
    table_us.push_back(time_per_call(from_table));
  }
  kill(leaf, SIGTERM);  // each level exits when its child does
  waitpid(outer, nullptr, 0);

  // Memory: a table of many processes with realistic command lines.
  constexpr uint32_t kProcs = 200000;
  std::vector<double> bytes_per;
  for (int r = 0; r < std::min(rounds, 3); ++r) {
    size_t before = heap_in_use();
    {
      ProcessTable big(kProcs);
      big.seed(1, 0, 0, "/sbin/init", 1, false);
      big.link_seeded();
      for (uint32_t i = 0; i < kProcs; ++i) {
        uint32_t pid = 1000 + i;
        uint32_t parent = i == 0 ? 1 : 1000 + (i - 1) / 8;  // fan-out 8
        big.fork(1000 + i, pid, parent, 1000, false);
        big.exec(pid, 1000,
                 "/usr/bin/python3 /srv/app/worker.py --queue=jobs-" +
                     std::to_string(i) + " --concurrency=4",
                 "");
      }
      size_t after = heap_in_use();
      bytes_per.push_back(static_cast<double>(after - before) / kProcs);
      if (big.live_count() != kProcs + 1)
        std::abort();
    }
  }

  std::printf(
      "ancestry per event, chain of %zu processes (/proc: %zu), "
      "median of %d rounds x %d lookups:\n",
      depth_table, depth_seen, rounds, kLookups);
  std::printf("  /proc walk           %8.2f us\n", median(proc_us));
  std::printf("  process table        %8.2f us\n", median(table_us));
  std::printf("  ratio (/proc/table)  %8.1fx\n",
              median(proc_us) / median(table_us));
  std::printf(
      "process table memory: %.0f bytes per tracked process "
      "(%u processes, ~60-byte command lines, heap in use)\n",
      median(bytes_per), kProcs);
  return 0;
}
