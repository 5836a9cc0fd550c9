// The per-event pipeline with fakes around it, and the clock formatting.
#include "pipeline/tracer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/clock.h"
#include "event.h"
#include "fake_clock.h"

namespace pidtree {
namespace {

using nlohmann::json;

// ---- format_rfc3339_utc -----------------------------------------------------

TEST(FormatRfc3339, Epoch) {
  EXPECT_EQ(format_rfc3339_utc(0), "1970-01-01T00:00:00.000000Z");
}

TEST(FormatRfc3339, KnownTimestampWithMicroseconds) {
  // 1700000000 s = 2023-11-14T22:13:20Z; nanoseconds are cut, not rounded.
  EXPECT_EQ(format_rfc3339_utc(1700000000123456789LL),
            "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(format_rfc3339_utc(1700000000000000999LL),
            "2023-11-14T22:13:20.000000Z");
  EXPECT_EQ(format_rfc3339_utc(1700000000999999999LL),
            "2023-11-14T22:13:20.999999Z");
  EXPECT_EQ(format_rfc3339_utc(1000), "1970-01-01T00:00:00.000001Z");
}

TEST(FormatRfc3339, CalendarEdges) {
  EXPECT_EQ(format_rfc3339_utc(951782400LL * 1000000000),
            "2000-02-29T00:00:00.000000Z");
  EXPECT_EQ(format_rfc3339_utc(4102444799LL * 1000000000 + 500000000),
            "2099-12-31T23:59:59.500000Z");
}

TEST(FormatRfc3339, NegativeValuesBeforeTheEpoch) {
  EXPECT_EQ(format_rfc3339_utc(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(format_rfc3339_utc(-1000), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(format_rfc3339_utc(-1000000000), "1969-12-31T23:59:59.000000Z");
  EXPECT_EQ(format_rfc3339_utc(-1500000000), "1969-12-31T23:59:58.500000Z");
  EXPECT_EQ(format_rfc3339_utc(-86400LL * 1000000000),
            "1969-12-31T00:00:00.000000Z");
}

TEST(TimestampFormatter, MatchesFormatRfc3339ForAStreamOfStamps) {
  TimestampFormatter f;
  std::mt19937_64 rng(11);
  // Runs within a second, steps across seconds and back, and jumps far
  // (before the epoch, too).
  int64_t t = 1700000000LL * 1000000000;
  for (int i = 0; i < 20000; ++i) {
    switch (rng() % 8) {
      case 0:  // anywhere in int64 range: 1684 to 2255
        t = (static_cast<int64_t>(rng() % 18000000000ULL) - 9000000000LL) *
                1000000000 +
            static_cast<int64_t>(rng() % 1000000000);
        break;
      case 1:
        t -= static_cast<int64_t>(rng() % 2000000000);
        break;
      default:
        t += static_cast<int64_t>(rng() % 300000000);
    }
    ASSERT_EQ(f.format(t), format_rfc3339_utc(t)) << t;
  }
  EXPECT_EQ(f.format(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(f.format(1000), "1970-01-01T00:00:00.000001Z");
}

TEST(SystemClock, RealtimeIsNowAndOffsetIsPositive) {
  SystemClock c;
  int64_t now = c.realtime_ns();
  // After 2020 and before 2200.
  EXPECT_GT(now, 1577836800LL * 1000000000);
  EXPECT_LT(now, 7258118400LL * 1000000000);
  // Boot time is in the past, so realtime - boottime is after the epoch.
  int64_t off = c.boot_to_realtime_ns();
  EXPECT_GT(off, 0);
  EXPECT_LE(off, now);
}

// ---- Tracer -----------------------------------------------------------------

class FakeAncestry : public AncestryResolver {
 public:
  Ancestry resolve(const EventTask &event) override {
    seen.push_back(event.pid);
    if (on_resolve)
      on_resolve();
    Ancestry a;
    a.tree.push_back(ProcNode{event.pid, "curl example.com", "alice"});
    a.tree.push_back(ProcNode{1, "/sbin/init", "root"});
    return a;
  }
  std::vector<uint32_t> seen;
  std::function<void()> on_resolve;
};

class FakeUsers : public UserDb {
 public:
  std::string name(uint32_t uid) override {
    asked.push_back(uid);
    return uid == 1000 ? "alice" : std::to_string(uid);
  }
  std::vector<uint32_t> asked;
};

class TempFile {
 public:
  TempFile() {
    char path[] = "/tmp/pidtree-tracer-XXXXXX";
    fd_ = ::mkstemp(path);
    if (fd_ < 0)
      throw std::runtime_error("mkstemp failed");
    ::unlink(path);
  }
  ~TempFile() { ::close(fd_); }
  int fd() const { return fd_; }
  std::string contents() const {
    std::string out;
    char buf[4096];
    off_t off = 0;
    ssize_t n;
    while ((n = ::pread(fd_, buf, sizeof(buf), off)) > 0) {
      out.append(buf, static_cast<size_t>(n));
      off += n;
    }
    return out;
  }
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::istringstream in(contents());
    std::string line;
    while (std::getline(in, line))
      out.push_back(line);
    return out;
  }

 private:
  int fd_ = -1;
};

pidtree_connect_event raw_event(uint64_t ts, uint32_t pid) {
  pidtree_connect_event raw;
  std::memset(&raw, 0, sizeof(raw));
  raw.ts_boot_ns = ts;
  raw.kind = PIDTREE_EVENT_TCP_CONNECT;
  raw.pid = pid;
  raw.tid = pid;
  raw.uid = 1000;
  raw.family = 2;
  raw.dport = 443;
  raw.sport = 40000;
  const uint8_t d[4] = {93, 184, 216, 34};
  std::memcpy(raw.daddr, d, 4);
  std::memcpy(raw.comm, "curl", 5);
  return raw;
}

class TracerTest : public ::testing::Test {
 protected:
  TracerTest() : sink(file.fd()), tracer(ancestry, users, clock, sink) {}

  TempFile file;
  FakeAncestry ancestry;
  FakeUsers users;
  pidtree::testing::FakeClock clock;
  OutputSink sink;
  Tracer tracer;
};

TEST_F(TracerTest, OneSampleOneLine) {
  // Boot at 2023-11-14T22:13:20Z; the connect 1.5 s + 1234 us after boot.
  clock.offset = 1700000000LL * 1000000000;
  tracer.begin_batch();
  pidtree_connect_event raw = raw_event(1501234000ULL, 4242);
  tracer.on_sample(&raw, sizeof(raw));
  EXPECT_TRUE(tracer.end_batch());

  std::vector<std::string> lines = file.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(file.contents().back(), '\n');
  json j = json::parse(lines[0]);
  EXPECT_EQ(j["timestamp"], "2023-11-14T22:13:21.501234Z");
  EXPECT_EQ(j["pid"], 4242);
  EXPECT_EQ(j["comm"], "curl");
  EXPECT_EQ(j["username"], "alice");
  EXPECT_EQ(j["daddr"], "93.184.216.34");
  EXPECT_EQ(j["port"], 443);
  ASSERT_EQ(j["proctree"].size(), 2u);
  EXPECT_EQ(j["proctree"][0]["pid"], 4242);
  EXPECT_EQ(ancestry.seen, std::vector<uint32_t>{4242});
  EXPECT_EQ(tracer.events(), 1u);
  EXPECT_EQ(tracer.malformed(), 0u);
  EXPECT_EQ(tracer.lost(), 0u);
}

TEST_F(TracerTest, OffsetIsSampledPerBatch) {
  clock.offset = 1000LL * 1000000000;
  tracer.begin_batch();
  pidtree_connect_event raw = raw_event(0, 1);
  tracer.on_sample(&raw, sizeof(raw));
  // The clock steps (NTP); the next batch follows it.
  clock.offset = 2000LL * 1000000000;
  tracer.on_sample(&raw, sizeof(raw));  // same batch: old offset
  EXPECT_TRUE(tracer.end_batch());
  tracer.begin_batch();
  tracer.on_sample(&raw, sizeof(raw));
  EXPECT_TRUE(tracer.end_batch());
  std::vector<std::string> lines = file.lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(json::parse(lines[0])["timestamp"], "1970-01-01T00:16:40.000000Z");
  EXPECT_EQ(json::parse(lines[1])["timestamp"], "1970-01-01T00:16:40.000000Z");
  EXPECT_EQ(json::parse(lines[2])["timestamp"], "1970-01-01T00:33:20.000000Z");
  EXPECT_EQ(tracer.events(), 3u);
}

TEST_F(TracerTest, NothingWrittenUntilEndBatch) {
  tracer.begin_batch();
  pidtree_connect_event raw = raw_event(1, 7);
  tracer.on_sample(&raw, sizeof(raw));
  EXPECT_EQ(file.contents(), "");
  EXPECT_TRUE(tracer.end_batch());
  EXPECT_EQ(file.lines().size(), 1u);
}

TEST_F(TracerTest, ABacklogIsWrittenAsItGoesAndCompletely) {
  // ~3,000 lines of ~180 B: more than kFlushBytes in one batch.
  const int n = 3000;
  std::vector<size_t> written_before;
  ancestry.on_resolve = [&] {
    written_before.push_back(file.contents().size());
  };
  tracer.begin_batch();
  for (int i = 0; i < n; ++i) {
    pidtree_connect_event raw = raw_event(1000 + i, 100 + i);
    tracer.on_sample(&raw, sizeof(raw));
  }
  EXPECT_TRUE(tracer.end_batch());
  ASSERT_EQ(written_before.size(), static_cast<size_t>(n));
  // Written in the middle of the batch, never more than kFlushBytes behind.
  EXPECT_GT(written_before.back(), 0u);
  std::vector<std::string> lines = file.lines();
  ASSERT_EQ(lines.size(), static_cast<size_t>(n));
  EXPECT_GT(file.contents().size(), OutputSink::kFlushBytes);
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(json::parse(lines[i])["pid"], 100 + i) << i;
  EXPECT_LE(file.contents().size() - written_before.back(),
            OutputSink::kFlushBytes + 4096);
}

TEST(OutputSink, GivesBackTheMemoryOfAHugeLine) {
  TempFile file;
  OutputSink sink(file.fd());
  sink.add_line(std::string(3 << 20, 'x') + "\n");
  EXPECT_TRUE(sink.flush());
  EXPECT_LE(sink.buffer().capacity(), 1u << 20);
  EXPECT_EQ(file.contents().size(), (3u << 20) + 1);
}

TEST_F(TracerTest, MalformedSampleIsCountedNotPrinted) {
  tracer.begin_batch();
  pidtree_connect_event raw = raw_event(1, 7);
  tracer.on_sample(&raw, sizeof(raw) - 1);  // too short
  raw.kind = 99;
  tracer.on_sample(&raw, sizeof(raw));  // wrong kind
  raw = raw_event(1, 7);
  raw.family = 3;
  tracer.on_sample(&raw, sizeof(raw));  // bad family
  EXPECT_TRUE(tracer.end_batch());
  EXPECT_EQ(file.contents(), "");
  EXPECT_EQ(tracer.malformed(), 3u);
  EXPECT_EQ(tracer.events(), 0u);
  EXPECT_TRUE(ancestry.seen.empty());
}

TEST_F(TracerTest, LostEventsReportedOncePerBatch) {
  clock.now = 1700000000LL * 1000000000;
  tracer.begin_batch();
  tracer.on_lost(3);
  tracer.on_lost(4);
  EXPECT_TRUE(tracer.end_batch());
  std::vector<std::string> lines = file.lines();
  ASSERT_EQ(lines.size(), 1u);
  json j = json::parse(lines[0]);
  EXPECT_EQ(j["type"], "lost_events");
  EXPECT_EQ(j["count"], 7);
  EXPECT_EQ(j["total"], 7);
  EXPECT_EQ(j["timestamp"], "2023-11-14T22:13:20.000000Z");
  EXPECT_EQ(tracer.lost(), 7u);

  // A batch without loss adds no line.
  tracer.begin_batch();
  EXPECT_TRUE(tracer.end_batch());
  EXPECT_EQ(file.lines().size(), 1u);

  tracer.begin_batch();
  tracer.on_lost(1);
  EXPECT_TRUE(tracer.end_batch());
  lines = file.lines();
  ASSERT_EQ(lines.size(), 2u);
  json k = json::parse(lines[1]);
  EXPECT_EQ(k["type"], "lost_events");
  EXPECT_EQ(k["count"], 1);
  EXPECT_EQ(k["total"], 8);
  EXPECT_EQ(tracer.lost(), 8u);
}

TEST_F(TracerTest, EventsAndLossInOneBatch) {
  tracer.begin_batch();
  pidtree_connect_event raw = raw_event(1, 10);
  tracer.on_sample(&raw, sizeof(raw));
  tracer.on_lost(2);
  raw = raw_event(2, 11);
  tracer.on_sample(&raw, sizeof(raw));
  EXPECT_TRUE(tracer.end_batch());
  std::vector<std::string> lines = file.lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(json::parse(lines[0])["pid"], 10);
  EXPECT_EQ(json::parse(lines[1])["pid"], 11);
  EXPECT_EQ(json::parse(lines[2])["type"], "lost_events");
  EXPECT_EQ(json::parse(lines[2])["count"], 2);
}

TEST(TracerPipe, EndBatchFailsOnceTheReaderIsGone) {
  sighandler_t old = ::signal(SIGPIPE, SIG_IGN);
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  FakeAncestry ancestry;
  FakeUsers users;
  pidtree::testing::FakeClock clock;
  OutputSink sink(fds[1]);
  Tracer tracer(ancestry, users, clock, sink);

  tracer.begin_batch();
  pidtree_connect_event raw = raw_event(1, 5);
  tracer.on_sample(&raw, sizeof(raw));
  EXPECT_TRUE(tracer.end_batch());
  char buf[4096];
  ssize_t n = ::read(fds[0], buf, sizeof(buf));
  ASSERT_GT(n, 0);
  std::string line(buf, static_cast<size_t>(n));
  EXPECT_EQ(json::parse(line)["pid"], 5);

  ::close(fds[0]);
  tracer.begin_batch();
  tracer.on_sample(&raw, sizeof(raw));
  EXPECT_FALSE(tracer.end_batch());
  EXPECT_EQ(sink.error(), EPIPE);
  tracer.begin_batch();
  EXPECT_FALSE(tracer.end_batch());
  ::close(fds[1]);
  ::signal(SIGPIPE, old);
}

}  // namespace
}  // namespace pidtree
