// A probe's thread of its own: runs its work every period, from the start
// or after one period, until stopped; its events wait for collect().
#include "probes/probe_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace pidtree {
namespace {

using namespace std::chrono_literals;

TEST(ProbeWorker, RunsAtOnceOrAfterAPeriodUntilStopped) {
  ProbeWorker now, later;
  std::atomic<int> now_runs{0}, later_runs{0};
  now.start(1h, true, [&] { ++now_runs; });
  later.start(1h, false, [&] { ++later_runs; });
  for (int i = 0; i < 200 && now_runs == 0; ++i)
    std::this_thread::sleep_for(5ms);
  EXPECT_EQ(now_runs, 1);    // at once, then not before an hour
  EXPECT_EQ(later_runs, 0);  // not before its first period
  EXPECT_TRUE(now.stop());   // a stop cuts the wait short
  EXPECT_TRUE(later.stop());
  EXPECT_EQ(later_runs, 0);
  EXPECT_FALSE(now.stop());  // not running any more
  ProbeWorker idle;
  EXPECT_FALSE(idle.stop());
}

TEST(ProbeWorker, RunsEveryPeriodAndQueuesItsEvents) {
  ProbeWorker w;
  std::atomic<int> runs{0};
  w.start(10ms, false, [&] {
    ++runs;
    std::vector<Event> made;
    UdpSessionsUntracked u;
    u.count = 1;
    made.emplace_back(u);
    w.post(std::move(made));
  });
  for (int i = 0; i < 400 && runs < 3; ++i)
    std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(w.stop());
  const int ran = runs;
  EXPECT_GE(ran, 3);
  std::vector<Event> out;
  w.collect(&out);
  EXPECT_EQ(out.size(), static_cast<size_t>(ran));
  out.clear();
  w.collect(&out);
  EXPECT_TRUE(out.empty());  // taken once
  // Events posted after the stop (udp_session's last scan) still come.
  std::vector<Event> last;
  last.emplace_back(UdpSessionsUntracked{});
  w.post(std::move(last));
  w.collect(&out);
  EXPECT_EQ(out.size(), 1u);
}

}  // namespace
}  // namespace pidtree
