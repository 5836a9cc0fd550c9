#include "pipeline/event_orderer.h"

#include <gtest/gtest.h>

#include <random>

namespace pidtree {
namespace {

Event connect_at(uint64_t ts, uint32_t pid) {
  ConnectEvent ev;
  ev.ts_boot_ns = ts;
  ev.pid = pid;
  return ev;
}

Event exec_at(uint64_t ts, uint32_t pid) {
  ProcEvent ev;
  ev.kind = ProcEvent::Kind::kExec;
  ev.ts_boot_ns = ts;
  ev.pid = pid;
  return ev;
}

// The tests make exec and connect events only.
uint32_t pid_of(const Event &e) {
  if (const auto *ev = std::get_if<ProcEvent>(&e))
    return ev->pid;
  return std::get<ConnectEvent>(e).pid;
}

TEST(EventOrderer, ReleasesInTimeOrderUpToTheWatermark) {
  EventOrderer o;
  // As two CPUs' buffers deliver them: each in order, interleaved badly.
  o.push(connect_at(30, 1));
  o.push(connect_at(50, 1));
  o.push(exec_at(10, 1));
  o.push(exec_at(40, 1));
  std::vector<uint64_t> seen;
  o.release(40, [&](const Event &e) { seen.push_back(event_time(e)); });
  EXPECT_EQ(seen, (std::vector<uint64_t>{10, 30, 40}));
  EXPECT_EQ(o.held(), 1u);
  o.release(UINT64_MAX, [&](const Event &e) { seen.push_back(event_time(e)); });
  EXPECT_EQ(seen.back(), 50u);
  EXPECT_EQ(o.held(), 0u);
}

TEST(EventOrderer, EqualStampsKeepArrivalOrder) {
  EventOrderer o;
  o.push(exec_at(5, 1));
  o.push(connect_at(5, 2));
  std::vector<bool> is_connect;
  o.release(5, [&](const Event &e) {
    is_connect.push_back(std::holds_alternative<ConnectEvent>(e));
  });
  EXPECT_EQ(is_connect, (std::vector<bool>{false, true}));
}

TEST(EventOrderer, AHeldEventStaysBeforeALaterArrivalWithTheSameStamp) {
  EventOrderer o;
  o.push(exec_at(10, 1));
  o.push(connect_at(20, 1));
  std::vector<uint32_t> pids;
  auto record = [&](const Event &e) { pids.push_back(pid_of(e)); };
  o.release(5, record);
  EXPECT_TRUE(pids.empty());
  EXPECT_EQ(o.held(), 2u);
  o.push(connect_at(10, 2));
  o.push(connect_at(15, 3));
  o.release(15, record);
  EXPECT_EQ(pids, (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(o.held(), 1u);
}

TEST(EventOrderer, RandomInterleavingsComeOutSortedAndStable) {
  std::mt19937 rng(7);
  EventOrderer o;
  uint64_t released_up_to = 0;
  uint32_t arrival = 0;
  // (stamp, arrival): few distinct stamps, so many ties across batches.
  std::vector<std::pair<uint64_t, uint32_t>> out;
  auto record = [&](const Event &e) {
    out.emplace_back(event_time(e), pid_of(e));
  };
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < 50; ++i) {
      uint64_t ts = released_up_to + 1 + rng() % 40;
      o.push(i % 3 ? connect_at(ts, arrival) : exec_at(ts, arrival));
      ++arrival;
    }
    released_up_to += 20;
    o.release(released_up_to, record);
  }
  o.release(UINT64_MAX, record);
  EXPECT_EQ(out.size(), 5000u);
  EXPECT_TRUE(std::is_sorted(out.begin(), out.end()));
}

}  // namespace
}  // namespace pidtree
