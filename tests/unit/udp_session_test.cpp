// udp_session as a unit: its records' decoding, the session bookkeeping
// (interim and final lines, idle expiry, bounds, counts adding up) on event
// times alone, the scan of the kernel's map through a fake, its lines, its
// configuration section and the hooks it asks for.
#include "probes/udp_session/udp_session.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config_text.h"
#include "event.h"
#include "fake_output.h"
#include "kernel/program.h"
#include "probes/udp_session/session_book.h"
#include "probes/udp_session/udp_event.h"

namespace pidtree {
namespace {

using nlohmann::json;
using testing::error_of;
using testing::FakeOutput;
using testing::lines_of;
using testing::load;
using testing::tree_of;

constexpr uint64_t kSec = 1'000'000'000ull;

void put_v4(uint8_t *to, const char *text) {
  ASSERT_EQ(inet_pton(AF_INET, text, to), 1) << text;
}

void put_v6(uint8_t *to, const char *text) {
  ASSERT_EQ(inet_pton(AF_INET6, text, to), 1) << text;
}

pidtree_udp_session raw_session() {
  pidtree_udp_session s;
  std::memset(&s, 0, sizeof(s));
  s.first_ns = 10 * kSec;
  s.last_ns = 10 * kSec;
  s.pid = 700;
  s.tid = 701;
  s.uid = 1000;
  s.family = AF_INET;
  s.sport = 40000;
  put_v4(s.saddr, "192.0.2.1");
  std::memcpy(s.comm, "dig", 3);
  return s;
}

// Adds a destination slot; `count` messages, the first at `first`.
void add_dest(pidtree_udp_session *s, const char *addr, uint16_t port,
              uint64_t count, uint64_t first, uint64_t last) {
  pidtree_udp_dest &d = s->dests[s->ndests++];
  bool v6 = std::strchr(addr, ':') != nullptr;
  if (v6)
    put_v6(d.addr, addr);
  else
    put_v4(d.addr, addr);
  d.family = v6 ? AF_INET6 : AF_INET;
  d.port = port;
  d.msg_count = count;
  d.first_ns = first;
  d.last_ns = last;
  s->last_ns = std::max<uint64_t>(s->last_ns, last);
}

UdpSessionRecord record_of(const pidtree_udp_session &raw) {
  auto r = parse_udp_session(raw);
  EXPECT_TRUE(r.has_value());
  return r ? *r : UdpSessionRecord{};
}

std::vector<uint8_t> end_event_bytes(const pidtree_udp_session &s, uint64_t key,
                                     uint64_t ts) {
  pidtree_udp_event ev;
  std::memset(&ev, 0, sizeof(ev));
  ev.ts_boot_ns = ts;
  ev.kind = PIDTREE_EVENT_UDP_SESSION;
  ev.what = PIDTREE_UDP_END;
  ev.pid = 900;
  ev.tid = 901;
  ev.key = key;
  ev.uid = 0;
  std::memcpy(ev.comm, "kworker", 7);
  ev.session = s;
  // As the kernel sends it: up to the last claimed destination.
  size_t n = std::min<uint64_t>(s.ndests, PIDTREE_UDP_MAX_DESTS);
  size_t size = offsetof(pidtree_udp_event, session) +
                offsetof(pidtree_udp_session, dests) +
                n * sizeof(pidtree_udp_dest);
  std::vector<uint8_t> bytes(size);
  std::memcpy(bytes.data(), &ev, size);
  return bytes;
}

UdpSessionEvent start_event(uint64_t key, uint64_t ts, uint32_t pid = 700) {
  UdpSessionEvent ev;
  ev.ts_boot_ns = ts;
  ev.key = key;
  ev.pid = pid;
  ev.tid = pid;
  ev.uid = 1000;
  ev.comm = "dig";
  return ev;
}

UdpSessionEvent end_event(uint64_t key, uint64_t ts,
                          const pidtree_udp_session &raw) {
  UdpSessionEvent ev = start_event(key, ts, 900);
  ev.end = true;
  ev.record = record_of(raw);
  return ev;
}

UdpSessionScanned scanned(
    uint64_t key, uint64_t ts, const pidtree_udp_session &raw,
    UdpSessionScanned::Why why = UdpSessionScanned::Why::kDue) {
  UdpSessionScanned ev;
  ev.ts_boot_ns = ts;
  ev.key = key;
  ev.why = why;
  ev.record = record_of(raw);
  return ev;
}

uint64_t count_to(const UdpSessionLine &line, const std::string &addr,
                  uint16_t port) {
  uint64_t n = 0;
  for (const auto &d : line.dests)
    if (format_ip(d.addr) == addr && d.port == port)
      n += d.msg_count;
  return n;
}

// ---- records
// -----------------------------------------------------------------

TEST(UdpRecord, LayoutIsFixed) {
  // The BPF side writes these layouts; a change here must be one there.
  EXPECT_EQ(sizeof(pidtree_udp_dest), 48u);
  EXPECT_EQ(offsetof(pidtree_udp_dest, msg_count), 24u);
  EXPECT_EQ(offsetof(pidtree_udp_session, ndests), 16u);
  EXPECT_EQ(offsetof(pidtree_udp_session, pid), 32u);
  EXPECT_EQ(offsetof(pidtree_udp_session, comm), 64u);
  EXPECT_EQ(offsetof(pidtree_udp_session, cgroup_id), 80u);
  EXPECT_EQ(offsetof(pidtree_udp_session, loginuid), 88u);
  EXPECT_EQ(offsetof(pidtree_udp_session, dests), 96u);
  EXPECT_EQ(sizeof(pidtree_udp_session), 96u + 16 * 48u);
  EXPECT_EQ(offsetof(pidtree_udp_event, key), 24u);
  EXPECT_EQ(offsetof(pidtree_udp_event, loginuid), 36u);
  EXPECT_EQ(offsetof(pidtree_udp_event, cgroup_id), 56u);
  EXPECT_EQ(offsetof(pidtree_udp_event, session), 64u);
}

TEST(UdpRecord, StartIsTheHeaderAlone) {
  pidtree_udp_event ev;
  std::memset(&ev, 0, sizeof(ev));
  ev.ts_boot_ns = 5;
  ev.kind = PIDTREE_EVENT_UDP_SESSION;
  ev.what = PIDTREE_UDP_START;
  ev.pid = 42;
  ev.tid = 43;
  ev.key = 0xffff888812345678ull;
  ev.uid = 1000;
  std::memcpy(ev.comm, "dig", 3);
  auto got =
      decode_udp_session_event(&ev, offsetof(pidtree_udp_event, session));
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(got->end);
  EXPECT_EQ(got->ts_boot_ns, 5u);
  EXPECT_EQ(got->key, 0xffff888812345678ull);
  EXPECT_EQ(got->pid, 42u);
  EXPECT_EQ(got->tid, 43u);
  EXPECT_EQ(got->uid, 1000u);
  EXPECT_EQ(got->comm, "dig");
}

TEST(UdpRecord, EndCarriesTheWholeRecord) {
  pidtree_udp_session s = raw_session();
  add_dest(&s, "198.51.100.7", 53, 3, 10 * kSec, 11 * kSec);
  add_dest(&s, "2001:db8::7", 5353, 2, 10 * kSec, 12 * kSec);
  s.other_msgs = 9;
  auto bytes = end_event_bytes(s, 77, 13 * kSec);
  EXPECT_EQ(bytes.size(), 64u + 96u + 2 * 48u);  // not the whole 16 slots
  auto got = decode_udp_session_event(bytes.data(), bytes.size());
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->end);
  const UdpSessionRecord &r = got->record;
  EXPECT_EQ(r.pid, 700u);
  EXPECT_EQ(r.comm, "dig");
  EXPECT_EQ(format_ip(r.saddr), "192.0.2.1");
  EXPECT_EQ(r.sport, 40000);
  EXPECT_EQ(r.other_msgs, 9u);
  ASSERT_EQ(r.dests.size(), 2u);
  EXPECT_EQ(format_ip(r.dests[0].addr), "198.51.100.7");
  EXPECT_EQ(r.dests[0].port, 53);
  EXPECT_EQ(r.dests[0].msg_count, 3u);
  EXPECT_EQ(format_ip(r.dests[1].addr), "2001:db8::7");
  EXPECT_EQ(r.dests[1].slot, 1u);
}

TEST(UdpRecord, ShortOrForeignBytesAreRefused) {
  pidtree_udp_session s = raw_session();
  add_dest(&s, "198.51.100.7", 53, 1, 1, 1);
  auto bytes = end_event_bytes(s, 1, 1);
  ASSERT_TRUE(decode_udp_session_event(bytes.data(), bytes.size()));
  EXPECT_FALSE(decode_udp_session_event(nullptr, 0));
  EXPECT_FALSE(decode_udp_session_event(bytes.data(), 10));
  // An end without its claimed destinations, or without its record.
  EXPECT_FALSE(decode_udp_session_event(bytes.data(), bytes.size() - 1));
  EXPECT_FALSE(decode_udp_session_event(bytes.data(), 64 + 95));
  // Longer than any record and its padding.
  std::vector<uint8_t> longer(sizeof(pidtree_udp_event) + 8);
  std::memcpy(longer.data(), bytes.data(), bytes.size());
  EXPECT_FALSE(decode_udp_session_event(longer.data(), longer.size()));
  auto bad = bytes;
  reinterpret_cast<pidtree_udp_event *>(bad.data())->what = 7;
  EXPECT_FALSE(decode_udp_session_event(bad.data(), bad.size()));
  bad = bytes;
  reinterpret_cast<pidtree_udp_event *>(bad.data())->kind =
      PIDTREE_EVENT_NET_LISTEN;
  EXPECT_FALSE(decode_udp_session_event(bad.data(), bad.size()));
  bad = bytes;
  reinterpret_cast<pidtree_udp_event *>(bad.data())->session.family = 1;
  EXPECT_FALSE(decode_udp_session_event(bad.data(), bad.size()));
}

TEST(UdpRecord, PaddingAfterTheRecordIsAccepted) {
  // The perf buffer pads each sample, size field included, to 8 bytes: a
  // session with all 16 slots arrives as 928 + 4 bytes, one slot as
  // 208 + 4 (found at run time: 16 destinations were dropped as malformed).
  for (int n : {1, PIDTREE_UDP_MAX_DESTS}) {
    pidtree_udp_session s = raw_session();
    for (int i = 0; i < n; ++i)
      add_dest(&s, "198.51.100.7", static_cast<uint16_t>(1000 + i), 2, 1, 1);
    if (n == PIDTREE_UDP_MAX_DESTS)
      s.ndests = n + 4;  // four destinations found no slot
    s.other_msgs = 4;
    auto bytes = end_event_bytes(s, 1, 1);
    const size_t sent = bytes.size();
    ASSERT_EQ(sent, 64u + 96u + n * 48u);
    bytes.resize(sent + (8 - (sent + 4) % 8) % 8, 0xee);
    EXPECT_EQ((bytes.size() + 4) % 8, 0u);
    auto got = decode_udp_session_event(bytes.data(), bytes.size());
    ASSERT_TRUE(got.has_value()) << n;
    EXPECT_EQ(got->record.dests.size(), static_cast<size_t>(n));
    EXPECT_EQ(got->record.other_msgs, 4u);
    EXPECT_EQ(got->record.dests.back().port, 1000 + n - 1);
  }
}

TEST(UdpRecord, ClaimsBeyondTheBoundAndUnwrittenSlotsAreSkipped) {
  pidtree_udp_session s = raw_session();
  for (int i = 0; i < PIDTREE_UDP_MAX_DESTS; ++i)
    add_dest(&s, "198.51.100.7", static_cast<uint16_t>(1000 + i), 1, 1, 1);
  s.dests[3].family = 0;  // claimed by a CPU that has not written it yet
  s.ndests = 1000;        // CPUs that found no room still add to it
  UdpSessionRecord r = record_of(s);
  EXPECT_EQ(r.dests.size(), PIDTREE_UDP_MAX_DESTS - 1u);
  for (const auto &d : r.dests)
    EXPECT_NE(d.port, 1003);
}

TEST(UdpRecord, HostileCommIsKeptAsText) {
  pidtree_udp_session s = raw_session();
  std::memcpy(s.comm, "a\"b\n{}\\xxxxxxxxxx", 16);  // no terminator
  UdpSessionRecord r = record_of(s);
  EXPECT_LE(r.comm.size(), 16u);
  UdpSessionLine line;
  line.comm = r.comm;
  Ancestry tree;
  std::string user = "u", ts = "t", out;
  append_json(&out, line, EventLine{tree, user, ts}, "e");
  json j = json::parse(out);  // one valid object, the comm inside it
  EXPECT_EQ(j["comm"], r.comm);
}

// ---- the bookkeeping
// ---------------------------------------------------------

// max 10 s, a scan every 1 s: interim lines fall due 9 s after the last.
SessionBook book() { return SessionBook(10 * kSec, 1 * kSec, 100); }

TEST(SessionBook, TheEndLineHasTheTreeOfTheFirstSend) {
  SessionBook b = book();
  b.start(start_event(5, 10 * kSec), tree_of(700, "dig example.org"), "alice");
  pidtree_udp_session s = raw_session();
  add_dest(&s, "198.51.100.7", 53, 3, 10 * kSec, 10 * kSec + 500);
  add_dest(&s, "198.51.100.8", 53, 1, 11 * kSec, 11 * kSec);
  SessionBook::Made m = b.end(end_event(5, 12 * kSec, s));
  EXPECT_FALSE(m.line.interim);
  EXPECT_EQ(m.line.error, "");
  EXPECT_EQ(m.line.first_ns, 10 * kSec);
  EXPECT_EQ(m.line.end_ns, 12 * kSec);
  EXPECT_EQ(m.line.pid, 700u);  // the sender, not the releasing task
  ASSERT_EQ(m.tree.tree.size(), 2u);
  EXPECT_EQ(m.tree.tree[0].cmdline, "dig example.org");
  EXPECT_EQ(m.username, "alice");
  ASSERT_EQ(m.line.dests.size(), 2u);
  EXPECT_EQ(m.line.dests[0].msg_count, 3u);
  EXPECT_EQ(m.line.dests[0].duration_ns, 2 * kSec);
  EXPECT_EQ(m.line.dests[1].duration_ns, 1 * kSec);
  EXPECT_EQ(b.open(), 0u);
}

TEST(SessionBook, AKeptSessionIsReportedEveryPeriodAndTheCountsAddUp) {
  SessionBook b = book();
  const uint64_t t0 = 100 * kSec;
  b.start(start_event(5, t0), tree_of(700, "beacon"), "alice");
  pidtree_udp_session s = raw_session();
  s.first_ns = t0;
  add_dest(&s, "198.51.100.7", 53, 0, t0, t0);
  uint64_t sent = 0, reported = 0;
  int interims = 0;
  // One send a second for 35 s, a scan a second.
  for (uint64_t t = 1; t <= 35; ++t) {
    ++sent;
    s.dests[0].msg_count = sent;
    s.dests[0].last_ns = s.last_ns = t0 + t * kSec;
    auto m = b.scanned(scanned(5, t0 + t * kSec, s));
    if (!m)
      continue;
    EXPECT_TRUE(m->line.interim);
    EXPECT_EQ(m->line.error, "");
    EXPECT_EQ(m->tree.tree[0].cmdline, "beacon");
    reported += count_to(m->line, "198.51.100.7", 53);
    ++interims;
    // Never more than max apart, never before the due time.
    EXPECT_GE(t, 9u * interims);
    EXPECT_LE(t, 10u * interims);
  }
  EXPECT_EQ(interims, 3);  // at 9, 18 and 27 s
  auto last = b.end(end_event(5, t0 + 36 * kSec, s));
  EXPECT_FALSE(last.line.interim);
  reported += count_to(last.line, "198.51.100.7", 53);
  EXPECT_EQ(reported, sent);
}

TEST(SessionBook, NoInterimLineWithoutNewMessages) {
  SessionBook b = book();
  b.start(start_event(5, 0), tree_of(700, "x"), "alice");
  pidtree_udp_session s = raw_session();
  s.first_ns = 0;
  add_dest(&s, "198.51.100.7", 53, 4, 0, 5 * kSec);
  ASSERT_TRUE(b.scanned(scanned(5, 9 * kSec, s)));
  // Sending resumes later with nothing new at the next due time.
  EXPECT_FALSE(b.scanned(scanned(5, 18 * kSec, s)));
}

TEST(SessionBook, AnIdleSessionGetsOneLineAtItsExpiry) {
  SessionBook b = book();
  b.start(start_event(5, 0), tree_of(700, "once"), "alice");
  pidtree_udp_session s = raw_session();
  s.first_ns = s.last_ns = 0;
  add_dest(&s, "198.51.100.7", 53, 1, 0, 0);
  // Due for an interim line, but about to expire: no line yet.
  EXPECT_FALSE(b.scanned(scanned(5, 9 * kSec, s)));
  auto m =
      b.scanned(scanned(5, 10 * kSec, s, UdpSessionScanned::Why::kExpired));
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->line.interim);
  EXPECT_EQ(m->line.error, "session_max_duration_exceeded");
  EXPECT_EQ(count_to(m->line, "198.51.100.7", 53), 1u);
  EXPECT_EQ(m->tree.tree[0].cmdline, "once");
  EXPECT_EQ(b.open(), 0u);
}

TEST(SessionBook, ExpiryAfterInterimLinesReportsTheRest) {
  SessionBook b = book();
  b.start(start_event(5, 0), tree_of(700, "x"), "alice");
  pidtree_udp_session s = raw_session();
  s.first_ns = 0;
  add_dest(&s, "198.51.100.7", 53, 8, 0, 8 * kSec);
  auto first = b.scanned(scanned(5, 9 * kSec, s));
  ASSERT_TRUE(first);
  EXPECT_EQ(count_to(first->line, "198.51.100.7", 53), 8u);
  s.dests[0].msg_count = 11;
  s.dests[0].last_ns = s.last_ns = 10 * kSec;
  auto last =
      b.scanned(scanned(5, 20 * kSec, s, UdpSessionScanned::Why::kExpired));
  ASSERT_TRUE(last);
  EXPECT_EQ(count_to(last->line, "198.51.100.7", 53), 3u);
  EXPECT_EQ(last->line.error, "session_max_duration_exceeded");
}

TEST(SessionBook, LinesListOnlyDestinationsWithNewMessages) {
  SessionBook b = book();
  b.start(start_event(5, 0), tree_of(700, "x"), "alice");
  pidtree_udp_session s = raw_session();
  s.first_ns = 0;
  add_dest(&s, "198.51.100.7", 53, 2, 0, 1 * kSec);
  add_dest(&s, "198.51.100.8", 53, 1, 0, 1 * kSec);
  ASSERT_TRUE(b.scanned(scanned(5, 9 * kSec, s)));
  s.dests[1].msg_count = 5;
  s.dests[1].last_ns = s.last_ns = 12 * kSec;
  auto m = b.end(end_event(5, 13 * kSec, s));
  ASSERT_EQ(m.line.dests.size(), 1u);
  EXPECT_EQ(format_ip(m.line.dests[0].addr), "198.51.100.8");
  EXPECT_EQ(m.line.dests[0].msg_count, 4u);
  // Its duration runs from its first message, across the lines.
  EXPECT_EQ(m.line.dests[0].duration_ns, 13 * kSec);
}

TEST(SessionBook, ADestinationClaimedTwiceIsOneEntry) {
  SessionBook b = book();
  b.start(start_event(5, 0), tree_of(700, "x"), "alice");
  pidtree_udp_session s = raw_session();
  s.first_ns = 0;
  // Two CPUs claimed a slot each for the same destination at once.
  add_dest(&s, "198.51.100.7", 53, 3, 1 * kSec, 2 * kSec);
  add_dest(&s, "198.51.100.7", 53, 2, 0, 2 * kSec);
  auto m = b.end(end_event(5, 4 * kSec, s));
  ASSERT_EQ(m.line.dests.size(), 1u);
  EXPECT_EQ(m.line.dests[0].msg_count, 5u);
  EXPECT_EQ(m.line.dests[0].duration_ns, 4 * kSec);  // the earlier first
}

TEST(SessionBook, MessagesBeyondTheBoundAreCountedPerPeriod) {
  SessionBook b = book();
  b.start(start_event(5, 0), tree_of(700, "scanner"), "alice");
  pidtree_udp_session s = raw_session();
  s.first_ns = 0;
  add_dest(&s, "198.51.100.7", 53, 1, 0, 0);
  s.other_msgs = 40;
  s.last_ns = 5 * kSec;
  auto first = b.scanned(scanned(5, 9 * kSec, s));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->line.other_msgs, 40u);
  s.other_msgs = 45;
  auto last = b.end(end_event(5, 10 * kSec, s));
  EXPECT_EQ(last.line.other_msgs, 5u);
  EXPECT_TRUE(last.line.dests.empty());
}

TEST(SessionBook, AnEndWithoutItsStartTakesTheFallbackTree) {
  SessionBook b = book();
  pidtree_udp_session s = raw_session();
  add_dest(&s, "198.51.100.7", 53, 1, 10 * kSec, 10 * kSec);
  SessionBook::Made fb;
  fb.tree = tree_of(700, "read at the end");
  fb.tree.error = "the session's start was not seen";
  fb.username = "alice";
  auto m = b.end(end_event(5, 11 * kSec, s), &fb);
  EXPECT_EQ(m.tree.tree[0].cmdline, "read at the end");
  EXPECT_EQ(m.tree.error, "the session's start was not seen");
  EXPECT_EQ(count_to(m.line, "198.51.100.7", 53), 1u);
  EXPECT_EQ(b.open(), 0u);
}

TEST(SessionBook, TheTracerStoppingEndsEveryLineAsInterim) {
  SessionBook b = book();
  b.start(start_event(5, 0), tree_of(700, "x"), "alice");
  pidtree_udp_session s = raw_session();
  s.first_ns = 0;
  add_dest(&s, "198.51.100.7", 53, 2, 0, 1 * kSec);
  auto m = b.scanned(scanned(5, 2 * kSec, s, UdpSessionScanned::Why::kStopped));
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->line.interim);
  EXPECT_EQ(m->line.error, "tracer_stopped");
  EXPECT_EQ(count_to(m->line, "198.51.100.7", 53), 2u);
  EXPECT_EQ(b.open(), 0u);
}

TEST(SessionBook, AReusedSocketAddressStartsAfresh) {
  SessionBook b = book();
  pidtree_udp_session s = raw_session();
  add_dest(&s, "198.51.100.7", 53, 7, 0, 0);
  b.start(start_event(5, 0), tree_of(700, "first"), "alice");
  b.end(end_event(5, 1 * kSec, s));
  // The kernel freed the socket and gave its address to a new one.
  pidtree_udp_session t = raw_session();
  add_dest(&t, "198.51.100.7", 53, 2, 0, 0);
  b.start(start_event(5, 2 * kSec, 800), tree_of(800, "second"), "bob");
  auto m = b.end(end_event(5, 3 * kSec, t));
  EXPECT_EQ(count_to(m.line, "198.51.100.7", 53), 2u);
  EXPECT_EQ(m.tree.tree[0].cmdline, "second");
}

TEST(SessionBook, OpenSessionsAreBounded) {
  SessionBook b(10 * kSec, 1 * kSec, 3);
  for (uint64_t key = 1; key <= 5; ++key)
    b.start(start_event(key, key), tree_of(700, "x"), "alice");
  EXPECT_EQ(b.open(), 3u);
  EXPECT_EQ(b.evicted(), 2u);
  EXPECT_FALSE(b.known(1));
  EXPECT_TRUE(b.known(5));
  // Ending sessions keeps the bookkeeping of the order bounded too.
  for (int round = 0; round < 1000; ++round) {
    uint64_t key = 100 + round;
    b.start(start_event(key, key), tree_of(700, "x"), "alice");
    pidtree_udp_session s = raw_session();
    b.end(end_event(key, key + 1, s));
  }
  EXPECT_LE(b.open(), 3u);
}

TEST(SessionBook, CountsThatGoBackwardsReportNothingNegative) {
  SessionBook b = book();
  b.start(start_event(5, 0), tree_of(700, "x"), "alice");
  pidtree_udp_session s = raw_session();
  s.first_ns = 0;
  add_dest(&s, "198.51.100.7", 53, 9, 0, 8 * kSec);
  ASSERT_TRUE(b.scanned(scanned(5, 9 * kSec, s)));
  s.dests[0].msg_count = 4;
  auto m = b.end(end_event(5, 10 * kSec, s));
  EXPECT_TRUE(m.line.dests.empty());
}

// ---- the line
// ----------------------------------------------------------------

TEST(UdpSessionLine, HasUpstreamsFieldsAndOurs) {
  UdpSessionLine line;
  line.first_ns = 1;
  line.end_ns = 2;
  line.pid = 700;
  line.tid = 701;
  line.uid = 1000;
  line.comm = "dig";
  line.family = Family::kIpv6;
  line.saddr = parse_ip("2001:db8::1");
  line.sport = 40000;
  line.dests.push_back({parse_ip("2001:db8::7"), 53, 3, 1'500'000'000});
  line.other_msgs = 2;
  line.interim = true;
  Ancestry tree = tree_of(700, "dig");
  std::string user = "alice", first = "2026-01-01T00:00:00.000001Z", out;
  append_json(&out, line, EventLine{tree, user, first},
              "2026-01-01T00:00:01.500001Z");
  ASSERT_EQ(out.back(), '\n');
  EXPECT_NE(out.find("\"duration\":1.500000,"), std::string::npos) << out;
  json j = json::parse(out);
  EXPECT_EQ(j["probe"], "udp_session");
  EXPECT_EQ(j["timestamp"], first);
  EXPECT_EQ(j["end_timestamp"], "2026-01-01T00:00:01.500001Z");
  EXPECT_EQ(j["pid"], 700);
  EXPECT_EQ(j["tid"], 701);
  EXPECT_EQ(j["uid"], 1000);
  EXPECT_EQ(j["username"], "alice");
  EXPECT_EQ(j["family"], "ipv6");
  EXPECT_EQ(j["saddr"], "2001:db8::1");
  EXPECT_EQ(j["sport"], 40000);
  ASSERT_EQ(j["destinations"].size(), 1u);
  EXPECT_EQ(j["destinations"][0], (json{{"daddr", "2001:db8::7"},
                                        {"port", 53},
                                        {"duration", 1.5},
                                        {"msg_count", 3}}));
  EXPECT_EQ(j["other_destinations_msg_count"], 2);
  EXPECT_EQ(j["interim"], true);
  EXPECT_EQ(j["error"], "");
  ASSERT_EQ(j["proctree"].size(), 2u);
  EXPECT_EQ(j["proctree"][0]["cmdline"], "dig");
}

TEST(UdpSessionLine, DurationsAreSecondsWithMicroseconds) {
  UdpSessionLine line;
  line.dests.push_back({parse_ip("192.0.2.1"), 53, 1, 308'999});
  line.dests.push_back({parse_ip("192.0.2.2"), 53, 1, 0});
  line.dests.push_back({parse_ip("192.0.2.3"), 53, 1, 86'400'000'001'000});
  Ancestry tree;
  std::string user = "u", ts = "t", out;
  append_json(&out, line, EventLine{tree, user, ts}, "e");
  EXPECT_NE(out.find("\"duration\":0.000308,"), std::string::npos) << out;
  EXPECT_NE(out.find("\"duration\":0.000000,"), std::string::npos) << out;
  EXPECT_NE(out.find("\"duration\":86400.000001,"), std::string::npos) << out;
}

TEST(UdpSessionLine, TheSessionsErrorComesBeforeTheTreesOwn) {
  UdpSessionLine line;
  line.error = "session_max_duration_exceeded";
  Ancestry tree = tree_of(700, "x");
  tree.error = "pid 700 exited";
  std::string user = "u", ts = "t", out;
  append_json(&out, line, EventLine{tree, user, ts}, "e");
  EXPECT_EQ(json::parse(out)["error"],
            "session_max_duration_exceeded; pid 700 exited");
}

// ---- configuration
// -----------------------------------------------------------

const UdpSessionSettings &settings(const FileConfig &c) {
  const auto *s = c.section("udp_session").settings_as<UdpSessionSettings>();
  EXPECT_NE(s, nullptr);
  static UdpSessionSettings none;
  return s ? *s : none;
}

TEST(UdpSessionConfig, UpstreamsSectionLoads) {
  FileConfig c = load(
      "udp_session:\n"
      "  filters:\n"
      "    - {subnet_name: internal, network: 10.0.0.0/8}\n"
      "  excludeports: [53]\n"
      "  session_max_duration: 30\n"
      "  container_labels: [app=web]\n"
      "  plugins:\n"
      "    sourceipmap: {enabled: false}\n");
  ASSERT_TRUE(c.section("udp_session").present);
  EXPECT_EQ(settings(c).max_duration_ns, 30 * kSec);
  EXPECT_EQ(c.section("udp_session").rules.size(), 1u);
  EXPECT_EQ(c.section("udp_session").port_mode, PortMode::kExclude);
}

TEST(UdpSessionConfig, MaxDurationDefaultsAndDecimals) {
  EXPECT_EQ(settings(load("udp_session:\n")).max_duration_ns, 120 * kSec);
  EXPECT_EQ(settings(load("udp_session:\n  session_max_duration: 0.25\n"))
                .max_duration_ns,
            250'000'000u);
  EXPECT_EQ(settings(load("udp_session:\n  session_max_duration: 0\n"))
                .max_duration_ns,
            0u);
}

TEST(UdpSessionConfig, BadMaxDurationsNameTheLine) {
  for (const char *bad : {"-1", "abc", "1e3", "31536001", "1.5.2", "''"}) {
    std::string got = error_of(
        std::string("udp_session:\n  session_max_duration: ") + bad + "\n");
    EXPECT_NE(got.find("F:2:"), std::string::npos) << bad << ": " << got;
    EXPECT_NE(got.find("udp_session.session_max_duration: expected a number "
                       "of seconds from 0 to 31536000"),
              std::string::npos)
        << bad << ": " << got;
  }
  EXPECT_NE(error_of("udp_session:\n  session_max_duration: [1]\n")
                .find("udp_session.session_max_duration"),
            std::string::npos);
}

// ---- the scan
// ----------------------------------------------------------------

// The kernel's map, as the scan sees it.
class FakeSessions : public MapAccess {
 public:
  std::map<uint64_t, pidtree_udp_session> sessions;
  uint64_t untracked = 0;
  bool update(const char *, const void *, const void *) override {
    return true;
  }
  bool erase(const char *, const void *) override { return true; }
  bool lookup(const char *map, const void *key, void *value) override {
    auto it = find(map, key);
    if (it == sessions.end())
      return false;
    std::memcpy(value, &it->second, sizeof(it->second));
    return true;
  }
  bool next_key(const char *map, const void *key, void *next) override {
    if (std::string(map) != "udp_sessions")
      return false;
    auto it = key ? sessions.upper_bound(*static_cast<const uint64_t *>(key))
                  : sessions.begin();
    if (it == sessions.end())
      return false;
    std::memcpy(next, &it->first, sizeof(uint64_t));
    return true;
  }
  bool lookup_and_delete(const char *map, const void *key,
                         void *value) override {
    if (!lookup(map, key, value))
      return false;
    sessions.erase(*static_cast<const uint64_t *>(key));
    return true;
  }
  bool sum_percpu(const char *map, uint32_t index, uint64_t *sum) override {
    if (std::string(map) != "udp_counters" || index != PIDTREE_UDP_UNTRACKED)
      return false;
    *sum = untracked;
    return true;
  }

 private:
  std::map<uint64_t, pidtree_udp_session>::iterator find(const char *map,
                                                         const void *key) {
    if (std::string(map) != "udp_sessions")
      return sessions.end();
    return sessions.find(*static_cast<const uint64_t *>(key));
  }
};

std::unique_ptr<UdpSessionProbe> probe_with(const std::string &yaml) {
  static std::vector<FileConfig> keep;  // the probe keeps its section
  keep.push_back(load(yaml));
  return std::make_unique<UdpSessionProbe>(Backend::kTracepoint,
                                           keep.back().section("udp_session"));
}

template <typename E>
std::vector<E> of_type(const std::vector<Event> &events) {
  std::vector<E> out;
  for (const auto &e : events)
    if (const auto *x = std::get_if<E>(&e))
      out.push_back(*x);
  return out;
}

TEST(UdpSessionScan, ExpiresIdleSessionsAndPassesOnOldOnes) {
  auto probe = probe_with("udp_session:\n  session_max_duration: 10\n");
  EXPECT_EQ(probe->scan_period_ns(), 1 * kSec);
  FakeSessions maps;
  pidtree_udp_session idle = raw_session(), busy = raw_session(),
                      young = raw_session();
  idle.first_ns = idle.last_ns = 0;
  busy.first_ns = 0;
  busy.last_ns = 19 * kSec;
  young.first_ns = young.last_ns = 15 * kSec;
  maps.sessions = {{1, idle}, {2, busy}, {3, young}};
  uint64_t clock = 20 * kSec + 5;
  probe->scan(maps, 20 * kSec, [&] { return clock++; });
  std::vector<Event> out;
  probe->collect(&out);
  auto found = of_type<UdpSessionScanned>(out);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].key, 1u);
  EXPECT_EQ(found[0].why, UdpSessionScanned::Why::kExpired);
  // Stamped as it was taken out, after the scan's own time.
  EXPECT_EQ(found[0].ts_boot_ns, 20 * kSec + 5);
  EXPECT_EQ(found[1].key, 2u);
  EXPECT_EQ(found[1].why, UdpSessionScanned::Why::kDue);
  EXPECT_EQ(found[1].ts_boot_ns, 20 * kSec);
  // The idle one is gone from the kernel; the others stay.
  EXPECT_EQ(maps.sessions.count(1), 0u);
  EXPECT_EQ(maps.sessions.size(), 2u);
  // Collected once.
  out.clear();
  probe->collect(&out);
  EXPECT_TRUE(out.empty());
}

TEST(UdpSessionScan, TheLastScanPassesOnEverySession) {
  auto probe = probe_with("udp_session:\n  session_max_duration: 10\n");
  FakeSessions maps;
  pidtree_udp_session s = raw_session();
  s.first_ns = s.last_ns = 19 * kSec;
  maps.sessions = {{1, s}, {2, s}};
  probe->scan(
      maps, 20 * kSec, [] { return 20 * kSec; }, true);
  std::vector<Event> out;
  probe->collect(&out);
  auto found = of_type<UdpSessionScanned>(out);
  ASSERT_EQ(found.size(), 2u);
  for (const auto &f : found)
    EXPECT_EQ(f.why, UdpSessionScanned::Why::kStopped);
}

TEST(UdpSessionScan, UntrackedSendsAreReportedAsTheyGrow) {
  auto probe = probe_with("udp_session:\n");
  FakeSessions maps;
  std::vector<Event> out;
  probe->scan(maps, 1, [] { return 1; });
  probe->collect(&out);
  EXPECT_TRUE(out.empty());
  maps.untracked = 5;
  probe->scan(maps, 2, [] { return 2; });
  maps.untracked = 7;
  probe->scan(maps, 3, [] { return 3; });
  probe->scan(maps, 4, [] { return 4; });  // no growth: no line
  probe->collect(&out);
  auto found = of_type<UdpSessionsUntracked>(out);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].count, 5u);
  EXPECT_EQ(found[1].count, 2u);
  EXPECT_EQ(found[1].total, 7u);
}

TEST(UdpSessionScan, ThePeriodFollowsTheMaxDuration) {
  EXPECT_EQ(probe_with("udp_session:\n")->scan_period_ns(), 2 * kSec);
  EXPECT_EQ(probe_with("udp_session:\n  session_max_duration: 0.1\n")
                ->scan_period_ns(),
            50'000'000u);
}

// ---- the probe as a stage
// ----------------------------------------------------

TEST(UdpSessionStage, AStartPinsTheTreeAndTheEndWritesTheLine) {
  auto probe = probe_with("udp_session:\n");
  FakeOutput out;
  EXPECT_TRUE(probe->take(Event{start_event(5, 10)}, out));
  EXPECT_EQ(out.resolved, std::vector<uint32_t>{700});
  EXPECT_TRUE(out.text.empty());
  pidtree_udp_session s = raw_session();
  s.first_ns = 10;
  add_dest(&s, "198.51.100.7", 53, 2, 10, 10);
  EXPECT_TRUE(probe->take(Event{end_event(5, 20, s)}, out));
  // The tree is the one of the first send, read then.
  EXPECT_EQ(out.resolved, std::vector<uint32_t>{700});
  auto lines = lines_of(out.text);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["timestamp"], "T10");
  EXPECT_EQ(lines[0]["end_timestamp"], "T20");
  EXPECT_EQ(lines[0]["proctree"][0]["cmdline"], "now 700");
  EXPECT_EQ(lines[0]["username"], "user1000");
  EXPECT_EQ(lines[0]["destinations"][0]["msg_count"], 2);
}

TEST(UdpSessionStage, TheEnrichStageSeesTheSendersCgroupAndMayDrop) {
  auto probe = probe_with("udp_session:\n");
  FakeOutput out;
  out.enrichment.fields = ",\"container_name\":\"web\"";
  pidtree_udp_session s = raw_session();
  s.cgroup_id = 4242;
  add_dest(&s, "198.51.100.7", 53, 1, 10, 10);
  EXPECT_TRUE(probe->take(Event{start_event(5, 10)}, out));
  EXPECT_TRUE(probe->take(Event{end_event(5, 20, s)}, out));
  ASSERT_EQ(out.origins.size(), 1u);
  EXPECT_EQ(out.origins[0].slot, PIDTREE_SLOT_UDP_SESSION);
  EXPECT_EQ(out.origins[0].cgroup_id, 4242u);
  EXPECT_EQ(out.origins[0].pid, 700u);
  auto lines = lines_of(out.text);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["container_name"], "web");
  // A session of a container that container_labels leaves out: no line.
  out.text.clear();
  out.drop_cgroup = 4242;
  EXPECT_TRUE(probe->take(Event{start_event(6, 10)}, out));
  EXPECT_TRUE(probe->take(Event{end_event(6, 20, s)}, out));
  EXPECT_EQ(out.text, "");
}

TEST(UdpSessionStage, AnEndWithoutAStartSaysSo) {
  auto probe = probe_with("udp_session:\n");
  FakeOutput out;
  pidtree_udp_session s = raw_session();
  add_dest(&s, "198.51.100.7", 53, 1, 10, 10);
  probe->take(Event{end_event(5, 20, s)}, out);
  auto lines = lines_of(out.text);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["pid"], 700);
  EXPECT_NE(lines[0]["error"].get<std::string>().find(
                "the session's start was not seen"),
            std::string::npos);
}

TEST(UdpSessionStage, UntrackedSendsAreATypedLine) {
  auto probe = probe_with("udp_session:\n");
  FakeOutput out;
  EXPECT_TRUE(probe->take(Event{UdpSessionsUntracked{30, 4, 9}}, out));
  auto lines = lines_of(out.text);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], (json{{"type", "udp_sessions_untracked"},
                            {"timestamp", "T30"},
                            {"count", 4},
                            {"total", 9}}));
}

TEST(UdpSessionStage, OtherProbesEventsAreLeftAlone) {
  auto probe = probe_with("udp_session:\n");
  FakeOutput out;
  EXPECT_FALSE(probe->take(Event{ConnectEvent{}}, out));
  EXPECT_TRUE(out.text.empty());
}

// ---- hooks
// -------------------------------------------------------------------

ProgramShape shape(Backend backend, bool send_length) {
  ProgramShape s;
  s.backend = backend;
  s.have_sock_send_length = send_length;
  s.sock_offsets = SockOffsets{};
  s.socket_offsets = SocketOffsets{};
  return s;
}

std::vector<std::string> hooks_of(const UdpSessionProbe &probe,
                                  const ProgramShape &s) {
  ProgramBuilder b(s);
  probe.build(&b);
  std::vector<std::string> out;
  for (const Hook &h : b.hooks())
    out.push_back(describe(h));
  return out;
}

bool has(const std::vector<std::string> &hooks, const std::string &what) {
  for (const auto &h : hooks)
    if (h.find(what) != std::string::npos)
      return true;
  return false;
}

TEST(UdpSessionHooks, TracepointBackendUsesCgroupHooksAndSendLength) {
  FileConfig c = load("udp_session:\n");
  UdpSessionProbe probe(Backend::kTracepoint, c.section("udp_session"));
  auto hooks = hooks_of(probe, shape(Backend::kTracepoint, true));
  EXPECT_TRUE(has(hooks, "udp4_sendmsg"));
  EXPECT_TRUE(has(hooks, "udp6_sendmsg"));
  EXPECT_TRUE(has(hooks, "sock_send_length"));
  EXPECT_TRUE(has(hooks, "inet_sock_release"));
  EXPECT_FALSE(has(hooks, "kprobe"));
  // Before Linux 6.3: no sock_send_length, and connected sockets are left
  // to the cgroup hooks (which see only sends with an address).
  hooks = hooks_of(probe, shape(Backend::kTracepoint, false));
  EXPECT_FALSE(has(hooks, "sock_send_length"));
  ProgramBuilder b(shape(Backend::kTracepoint, false));
  probe.build(&b);
  EXPECT_NE(b.text().find("#define PIDTREE_UDP_SEND_LENGTH 0"),
            std::string::npos);
}

TEST(UdpSessionHooks, WithoutSendLengthTheTracepointBackendSaysWhatItMisses) {
  FileConfig c = load("udp_session:\n");
  UdpSessionProbe tp(Backend::kTracepoint, c.section("udp_session"));
  UdpSessionProbe kp(Backend::kKprobe, c.section("udp_session"));
  EXPECT_EQ(tp.blind_spot(shape(Backend::kTracepoint, true)), "");
  std::string note = tp.blind_spot(shape(Backend::kTracepoint, false));
  EXPECT_NE(note.find("sock:sock_send_length"), std::string::npos);
  EXPECT_NE(note.find("connected UDP sockets"), std::string::npos);
  EXPECT_EQ(kp.blind_spot(shape(Backend::kKprobe, false)), "");
}

TEST(UdpSessionHooks, KprobeBackendProbesTheSendFunctions) {
  FileConfig c = load("udp_session:\n");
  UdpSessionProbe probe(Backend::kKprobe, c.section("udp_session"));
  auto hooks = hooks_of(probe, shape(Backend::kKprobe, true));
  EXPECT_TRUE(has(hooks, "kprobe udp_sendmsg"));
  EXPECT_TRUE(has(hooks, "kprobe udpv6_sendmsg"));
  EXPECT_TRUE(has(hooks, "inet_sock_release"));
  EXPECT_FALSE(has(hooks, "udp4_sendmsg"));
  EXPECT_FALSE(has(hooks, "sock_send_length"));
}

TEST(UdpSessionHooks, WithoutBtfTheProbeSaysWhy) {
  FileConfig c = load("udp_session:\n");
  UdpSessionProbe probe(Backend::kTracepoint, c.section("udp_session"));
  ProgramShape s = shape(Backend::kTracepoint, true);
  EXPECT_EQ(probe.check(s), "");
  s.socket_offsets.reset();
  EXPECT_NE(probe.check(s).find("BTF"), std::string::npos);
}

}  // namespace
}  // namespace pidtree
