// Floods in user space (probes/flood_watch.h): the budget written to the
// kernel, the scan that takes only entries no BPF program adds to any
// more, the trees kept from the moment a process went over its budget,
// and the summary lines of each probe.
#include "probes/flood_watch.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config_text.h"
#include "event.h"
#include "fake_output.h"
#include "probes/events.h"
#include "probes/net_listen/net_listen.h"
#include "probes/tcp_connect/tcp_connect.h"

namespace pidtree {
namespace {

using testing::FakeOutput;
using testing::lines_of;

constexpr uint64_t kSec = 1'000'000'000ull;

// The kernel's flood maps, as the watch sees them.
class FakeFloodMaps : public MapAccess {
 public:
  std::map<std::string, pidtree_flood_entry> entries;  // by key bytes
  std::vector<pidtree_flood_control> controls;         // every write
  uint64_t untracked = 0;
  bool fail_control = false;

  static std::string key_bytes(const pidtree_flood_key &k) {
    return std::string(reinterpret_cast<const char *>(&k), sizeof(k));
  }
  void put(const pidtree_flood_key &k, const pidtree_flood_entry &e) {
    entries[key_bytes(k)] = e;
  }
  bool update(const char *map, const void *key, const void *value) override {
    if (std::string(map) != "flood_control" || fail_control)
      return false;
    EXPECT_EQ(*static_cast<const int *>(key), 0);
    pidtree_flood_control c;
    std::memcpy(&c, value, sizeof(c));
    controls.push_back(c);
    return true;
  }
  bool erase(const char *map, const void *key) override {
    if (std::string(map) != "flood_summaries")
      return false;
    return entries.erase(bytes(key)) == 1;
  }
  bool lookup(const char *map, const void *key, void *value) override {
    auto it = entries.find(bytes(key));
    if (std::string(map) != "flood_summaries" || it == entries.end())
      return false;
    std::memcpy(value, &it->second, sizeof(it->second));
    return true;
  }
  bool next_key(const char *map, const void *key, void *next) override {
    if (std::string(map) != "flood_summaries")
      return false;
    auto it = key ? entries.upper_bound(bytes(key)) : entries.begin();
    if (it == entries.end())
      return false;
    std::memcpy(next, it->first.data(), sizeof(pidtree_flood_key));
    return true;
  }
  bool sum_percpu(const char *map, uint32_t index, uint64_t *sum) override {
    if (std::string(map) != "flood_counters" ||
        index != PIDTREE_FLOOD_UNTRACKED)
      return false;
    *sum = untracked;
    return true;
  }

 private:
  static std::string bytes(const void *key) {
    return std::string(static_cast<const char *>(key),
                       sizeof(pidtree_flood_key));
  }
};

pidtree_flood_key key_of(uint32_t gen, uint32_t pid, uint8_t slot,
                         const char *v4, uint16_t port) {
  pidtree_flood_key k{};
  k.gen = gen;
  k.pid = pid;
  k.slot = slot;
  k.family = 2;
  k.port = port;
  EXPECT_EQ(inet_pton(AF_INET, v4, k.addr), 1);
  return k;
}

pidtree_flood_entry entry_of(uint64_t count, uint64_t first, uint64_t last) {
  pidtree_flood_entry e{};
  e.count = count;
  e.first_ns = first;
  e.last_ns = last;
  e.tid = 701;
  e.uid = 1000;
  e.loginuid = PIDTREE_NO_LOGINUID;
  e.netns = 4026531840u;
  e.cgroup_id = 99;
  std::memcpy(e.comm, "flooder", 8);
  return e;
}

std::vector<FloodSummary> summaries(FloodWatch &w) {
  std::vector<Event> out;
  w.collect(&out);
  std::vector<FloodSummary> found;
  for (const auto &e : out)
    if (const auto *s = std::get_if<FloodSummary>(&e))
      found.push_back(*s);
  return found;
}

TEST(FloodWatch, WritesTheBudgetAndItsWindow) {
  FloodWatch w(250);
  FakeFloodMaps maps;
  EXPECT_EQ(w.use_maps(maps), "");
  ASSERT_EQ(maps.controls.size(), 1u);
  EXPECT_EQ(maps.controls[0].budget, 250u);
  EXPECT_EQ(maps.controls[0].window_ns, kSec);
  EXPECT_EQ(maps.controls[0].gen, 0u);
  FakeFloodMaps broken;
  broken.fail_control = true;
  EXPECT_EQ(w.use_maps(broken), "cannot write the BPF map flood_control");
}

TEST(FloodWatch, AScanTakesOnlyTheRetiredGenerationThenRetiresTheCurrent) {
  FloodWatch w(10);
  FakeFloodMaps maps;
  w.use_maps(maps);
  // Generation 0 is current: the first scan takes nothing of it, and
  // makes 1 current.
  maps.put(key_of(0, 700, PIDTREE_SLOT_TCP_CONNECT, "198.51.100.7", 443),
           entry_of(40, 5, 9));
  w.scan(maps, 1 * kSec);
  EXPECT_TRUE(summaries(w).empty());
  EXPECT_EQ(maps.entries.size(), 1u);
  ASSERT_EQ(maps.controls.size(), 2u);
  EXPECT_EQ(maps.controls[1].gen, 1u);
  EXPECT_EQ(maps.controls[1].budget, 10u);
  // Programs now count into generation 1; the next scan takes 0, whole.
  maps.put(key_of(1, 700, PIDTREE_SLOT_TCP_CONNECT, "198.51.100.7", 443),
           entry_of(3, 11, 12));
  w.scan(maps, 2 * kSec);
  auto found = summaries(w);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].count, 40u);
  EXPECT_EQ(found[0].first_ns, 5u);
  EXPECT_EQ(found[0].last_ns, 9u);
  EXPECT_EQ(found[0].ts_boot_ns, 2 * kSec);
  EXPECT_EQ(found[0].pid, 700u);
  EXPECT_EQ(found[0].tid, 701u);
  EXPECT_EQ(found[0].comm, "flooder");
  EXPECT_EQ(format_ip(found[0].addr), "198.51.100.7");
  EXPECT_EQ(found[0].port, 443);
  EXPECT_EQ(maps.entries.size(), 1u);  // generation 1's stays
  EXPECT_EQ(maps.controls.back().gen, 2u);
  // The last scan (programs detached) takes everything, and flips nothing.
  size_t writes = maps.controls.size();
  w.scan(maps, 3 * kSec, true);
  found = summaries(w);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].count, 3u);
  EXPECT_TRUE(maps.entries.empty());
  EXPECT_EQ(maps.controls.size(), writes);
}

TEST(FloodWatch, EntriesThatCannotBeReadAreLeftOutNotInvented) {
  FloodWatch w(10);
  FakeFloodMaps maps;
  w.use_maps(maps);
  w.scan(maps, 1 * kSec);  // generation 1 current
  pidtree_flood_key bad_family = key_of(0, 1, 0, "192.0.2.1", 1);
  bad_family.family = 99;
  pidtree_flood_key bad_slot =
      key_of(0, 2, PIDTREE_FILTER_SLOTS, "192.0.2.1", 1);
  maps.put(bad_family, entry_of(1, 1, 1));
  maps.put(bad_slot, entry_of(1, 1, 1));
  maps.put(key_of(0, 3, 0, "192.0.2.1", 1), entry_of(0, 1, 1));  // uncounted
  pidtree_flood_entry backwards = entry_of(2, 50, 10);
  maps.put(key_of(0, 4, 0, "192.0.2.1", 1), backwards);
  w.scan(maps, 2 * kSec);
  auto found = summaries(w);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].pid, 4u);
  EXPECT_EQ(found[0].last_ns, 50u);  // never before its first
  EXPECT_TRUE(maps.entries.empty());
}

TEST(FloodWatch, UntrackedEventsAreReportedAsTheyGrow) {
  FloodWatch w(10);
  FakeFloodMaps maps;
  w.use_maps(maps);
  maps.untracked = 4;
  w.scan(maps, 1);
  w.scan(maps, 2);  // no growth
  maps.untracked = 9;
  w.scan(maps, 3);
  std::vector<Event> out;
  w.collect(&out);
  std::vector<FloodUntracked> found;
  for (const auto &e : out)
    if (const auto *u = std::get_if<FloodUntracked>(&e))
      found.push_back(*u);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].count, 4u);
  EXPECT_EQ(found[1].count, 5u);
  EXPECT_EQ(found[1].total, 9u);
}

TEST(FloodWatch, NoBudgetNoScans) {
  FloodWatch w(0);
  FakeFloodMaps maps;
  w.use_maps(maps);
  EXPECT_EQ(maps.controls.at(0).budget, 0u);
  w.start();  // nothing to run
  w.stop();
  EXPECT_EQ(maps.controls.size(), 1u);
}

// ---- lines
// -----------------------------------------------------------------

struct Probes {
  testing::TempFile file{"net_listen:\n"};
  FileConfig config = load_config(file.path());
  TcpConnectProbe tcp{Backend::kTracepoint, nullptr, CommandLineFilters{}};
  NetListenProbe listen{Backend::kTracepoint, config.section("net_listen"), 0};
  FloodWatch watch{10};
  Probes() { watch.set_probes({&tcp, &listen}); }
};

FloodSummary summary_of(uint8_t slot, uint32_t pid, const char *addr,
                        uint16_t port, uint64_t count) {
  auto s = parse_flood_entry(key_of(0, pid, slot, addr, port),
                             entry_of(count, 10 * kSec, 11 * kSec));
  EXPECT_TRUE(s.has_value());
  s->ts_boot_ns = 12 * kSec;
  return *s;
}

TEST(FloodWatch, ASummaryHasTheTreeOfTheMomentTheProcessWentOver) {
  Probes p;
  FakeOutput out;
  FloodBegins begins{10 * kSec, 700, 1000, 1000};
  EXPECT_TRUE(p.watch.take(Event{begins}, out));
  EXPECT_EQ(out.resolved, std::vector<uint32_t>{700});
  EXPECT_TRUE(out.text.empty());
  EXPECT_TRUE(p.watch.take(
      Event{summary_of(PIDTREE_SLOT_TCP_CONNECT, 700, "198.51.100.7", 443, 57)},
      out));
  EXPECT_EQ(out.resolved, std::vector<uint32_t>{700});  // not read again
  auto lines = lines_of(out.text);
  ASSERT_EQ(lines.size(), 1u);
  const auto &l = lines[0];
  EXPECT_EQ(l["type"], "flood_summary");
  EXPECT_EQ(l["probe"], "tcp_connect");
  EXPECT_EQ(l["count"], 57);
  EXPECT_EQ(l["timestamp"], "T10000000000");
  EXPECT_EQ(l["end_timestamp"], "T11000000000");
  EXPECT_EQ(l["pid"], 700);
  EXPECT_EQ(l["tid"], 701);
  EXPECT_EQ(l["comm"], "flooder");
  EXPECT_EQ(l["uid"], 1000);
  EXPECT_EQ(l["username"], "user1000");
  EXPECT_EQ(l["family"], "ipv4");
  EXPECT_EQ(l["daddr"], "198.51.100.7");
  EXPECT_EQ(l["port"], 443);
  EXPECT_EQ(l["proctree"][0]["cmdline"], "now 700");
  EXPECT_EQ(l["error"], "");
  ASSERT_EQ(out.origins.size(), 1u);
  EXPECT_EQ(out.origins[0].slot, PIDTREE_SLOT_TCP_CONNECT);
  EXPECT_EQ(out.origins[0].cgroup_id, 99u);
}

TEST(FloodWatch, NetListenSummariesNameTheLocalAddressAndProtocol) {
  Probes p;
  FakeOutput out;
  FloodSummary s = summary_of(PIDTREE_SLOT_NET_LISTEN, 700, "0.0.0.0", 8080, 3);
  s.protocol = 17;
  p.watch.take(Event{s}, out);
  auto lines = lines_of(out.text);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["probe"], "net_listen");
  EXPECT_EQ(lines[0]["laddr"], "0.0.0.0");
  EXPECT_FALSE(lines[0].contains("daddr"));
  EXPECT_EQ(lines[0]["protocol"], "udp");
  EXPECT_EQ(lines[0]["netns"], 4026531840u);
}

TEST(FloodWatch, WithoutItsMarkerTheTreeIsReadThenAndTheLineSaysSo) {
  Probes p;
  FakeOutput out;
  p.watch.take(
      Event{summary_of(PIDTREE_SLOT_TCP_CONNECT, 800, "198.51.100.7", 80, 2)},
      out);
  auto lines = lines_of(out.text);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["proctree"][0]["cmdline"], "now 800");
  EXPECT_NE(lines[0]["error"].get<std::string>().find(
                "read when its summary was written"),
            std::string::npos);
}

TEST(FloodWatch, OldTreesAreLetGo) {
  Probes p;
  FakeOutput out;
  p.watch.take(Event{FloodBegins{1 * kSec, 700, 0, 0}}, out);
  // Another process goes over much later: 700's tree is too old to keep.
  p.watch.take(Event{FloodBegins{1 * kSec + FloodWatch::kPinNs + 1, 800, 0, 0}},
               out);
  p.watch.take(
      Event{summary_of(PIDTREE_SLOT_TCP_CONNECT, 700, "198.51.100.7", 80, 2)},
      out);
  auto lines = lines_of(out.text);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0]["error"].get<std::string>().find("read when"),
            std::string::npos);
}

TEST(FloodWatch, ContainerLabelsDropASummaryAsTheyDropEvents) {
  Probes p;
  FakeOutput out;
  out.drop_cgroup = 99;
  EXPECT_TRUE(p.watch.take(
      Event{summary_of(PIDTREE_SLOT_TCP_CONNECT, 700, "198.51.100.7", 80, 2)},
      out));
  EXPECT_TRUE(out.text.empty());
}

TEST(FloodWatch, OtherEventsAreNotItsOwn) {
  Probes p;
  FakeOutput out;
  EXPECT_FALSE(p.watch.take(Event{ConnectEvent{}}, out));
  EXPECT_TRUE(p.watch.take(Event{FloodUntracked{5, 2, 7}}, out));
  auto lines = lines_of(out.text);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["type"], "flood_untracked");
  EXPECT_EQ(lines[0]["count"], 2);
  EXPECT_EQ(lines[0]["total"], 7);
}

TEST(FloodWatch, TheMarkerIsDecodedFromTheKernelsRecord) {
  pidtree_flood_event raw{};
  raw.ts_boot_ns = 42;
  raw.kind = PIDTREE_EVENT_FLOOD;
  raw.pid = 700;
  raw.uid = 1000;
  raw.loginuid = 1001;
  auto ev = decode_event(&raw, sizeof(raw));
  ASSERT_TRUE(ev.has_value());
  const auto *b = std::get_if<FloodBegins>(&*ev);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->ts_boot_ns, 42u);
  EXPECT_EQ(b->pid, 700u);
  EXPECT_EQ(b->uid, 1000u);
  EXPECT_EQ(b->loginuid, 1001u);
  EXPECT_FALSE(decode_event(&raw, sizeof(raw) - 1).has_value());
}

}  // namespace
}  // namespace pidtree
