// The tracer's lines about itself (pipeline/telemetry.h): its own usage
// read from /proc/self text, the stats line and upstream's lost-event line.
#include "pipeline/telemetry.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace pidtree {
namespace {

using nlohmann::json;

constexpr uint64_t kSec = 1'000'000'000ull;

// Fields 14 and 15 (utime, stime) are 350 and 150 ticks.
const char kStat[] =
    "4242 (pidtree-bcc) S 1 4242 4242 0 -1 4194560 5000 0 0 0 350 150 0 0 "
    "20 0 3 0 123456 300000000 6000 18446744073709551615 1 1 0 0 0 0 0 0 0 "
    "0 0 0 17 1 0 0 0 0 0\n";

TEST(SelfUsage, RssAndCpuFromProcText) {
  uint64_t rss = 0;
  double cpu = 0;
  ASSERT_TRUE(parse_self_usage("75000 6000 900 100 0 7000 0\n", kStat, 4, 100,
                               &rss, &cpu));
  EXPECT_EQ(rss, 24000u);
  EXPECT_DOUBLE_EQ(cpu, 5.0);
}

TEST(SelfUsage, ACommandNameWithSpacesAndParenthesesIsSkipped) {
  std::string stat = kStat;
  stat.replace(stat.find("(pidtree-bcc)"), 13, "(a) b (c d))");
  uint64_t rss = 0;
  double cpu = 0;
  ASSERT_TRUE(parse_self_usage("1 2", stat, 4, 100, &rss, &cpu));
  EXPECT_DOUBLE_EQ(cpu, 5.0);
}

TEST(SelfUsage, OddTextIsRefusedNotMisread) {
  uint64_t rss = 7;
  double cpu = 7;
  for (const char *statm : {"", "x y", "12"})
    EXPECT_FALSE(parse_self_usage(statm, kStat, 4, 100, &rss, &cpu)) << statm;
  for (const char *stat : {"", "4242 pidtree-bcc S 1", "1 (x) S 1 2 3",
                           "1 (x) S 1 1 1 1 1 1 1 1 1 1 -5 7"})
    EXPECT_FALSE(parse_self_usage("1 2", stat, 4, 100, &rss, &cpu)) << stat;
  EXPECT_FALSE(parse_self_usage("1 2", kStat, 0, 100, &rss, &cpu));
  EXPECT_FALSE(parse_self_usage("1 2", kStat, 4, 0, &rss, &cpu));
  EXPECT_EQ(rss, 7u);
}

TracerCounters counters(uint64_t events, uint64_t lost, double cpu) {
  TracerCounters c;
  c.events = events;
  c.lost = lost;
  c.malformed = 1;
  c.container_dropped = 2;
  c.lines = {{"tcp_connect", events - 3}, {"net_listen", 3}};
  c.have_table = true;
  c.table_live = 180;
  c.table_exited = 40;
  c.table_evictions = 5;
  c.reloads_applied = 2;
  c.reloads_refused = 1;
  c.rss_kb = 26000;
  c.cpu_s = cpu;
  return c;
}

TEST(Telemetry, AStatsLineEachIntervalWithTheFiguresSinceTheLast) {
  Telemetry t(10, 0, 100 * kSec);
  EXPECT_FALSE(t.stats_due(100 * kSec));
  EXPECT_FALSE(t.stats_due(109 * kSec));
  ASSERT_TRUE(t.stats_due(110 * kSec));
  std::string text = t.stats_line(110 * kSec, counters(100, 4, 1.0), "T1");
  ASSERT_EQ(text.back(), '\n');
  ASSERT_EQ(text.find('\n'), text.size() - 1);
  json j = json::parse(text);
  EXPECT_EQ(j["type"], "stats");
  EXPECT_EQ(j["timestamp"], "T1");
  EXPECT_DOUBLE_EQ(j["interval_s"].get<double>(), 10.0);
  EXPECT_EQ(j["events"], 100);
  EXPECT_EQ(j["events_interval"], 100);
  EXPECT_EQ(j["lines"]["tcp_connect"], 97);
  EXPECT_EQ(j["lines"]["net_listen"], 3);
  EXPECT_EQ(j["lost"], 4);
  EXPECT_EQ(j["lost_interval"], 4);
  EXPECT_EQ(j["malformed"], 1);
  EXPECT_EQ(j["container_dropped"], 2);
  EXPECT_EQ(j["process_table"]["live"], 180);
  EXPECT_EQ(j["process_table"]["exited_kept"], 40);
  EXPECT_EQ(j["process_table"]["evictions"], 5);
  EXPECT_EQ(j["reloads"]["applied"], 2);
  EXPECT_EQ(j["reloads"]["refused"], 1);
  EXPECT_EQ(j["rss_kb"], 26000);
  EXPECT_DOUBLE_EQ(j["cpu_pct"].get<double>(), 10.0);
  // The next interval counts from this line.
  EXPECT_FALSE(t.stats_due(115 * kSec));
  ASSERT_TRUE(t.stats_due(120 * kSec));
  j = json::parse(t.stats_line(120 * kSec, counters(150, 4, 1.5), "T2"));
  EXPECT_EQ(j["events_interval"], 50);
  EXPECT_EQ(j["lost_interval"], 0);
  EXPECT_DOUBLE_EQ(j["cpu_pct"].get<double>(), 5.0);
}

TEST(Telemetry, WithoutATableOrAnIntervalNoneOfIt) {
  Telemetry off(0, 0, 0);
  EXPECT_FALSE(off.stats_due(1000 * kSec));
  EXPECT_FALSE(off.lost_due(1000000));
  EXPECT_EQ(off.lost_line(1000000, 5, "T"), "");
  Telemetry t(1, 0, 0);
  TracerCounters c = counters(10, 0, 0);
  c.have_table = false;
  json j = json::parse(t.stats_line(kSec, c, "T"));
  EXPECT_FALSE(j.contains("process_table"));
}

TEST(Telemetry, ALostEventLineEachTimeNMoreEventsWereHandled) {
  Telemetry t(0, 100, 0);
  EXPECT_FALSE(t.lost_due(99));
  ASSERT_TRUE(t.lost_due(100));
  json j = json::parse(t.lost_line(100, 7, "T1"));
  EXPECT_EQ(j["type"], "lost_event_telemetry");
  EXPECT_EQ(j["timestamp"], "T1");
  EXPECT_EQ(j["count"], 7);  // lost so far, as upstream
  EXPECT_FALSE(t.lost_due(150));
  // A batch that passes several multiples makes one line.
  ASSERT_TRUE(t.lost_due(450));
  EXPECT_NE(t.lost_line(450, 9, "T2"), "");
  EXPECT_FALSE(t.lost_due(499));
  EXPECT_TRUE(t.lost_due(500));
}

}  // namespace
}  // namespace pidtree
