// net_listen as a unit: its record's decoding, its line, its configuration
// section, its snapshot's /proc parsing and scan, and its filters.
#include "probes/net_listen/net_listen.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config_text.h"
#include "event.h"
#include "probes/net_listen/listen_event.h"
#include "probes/net_listen/snapshot.h"

namespace pidtree {
namespace {

using nlohmann::json;

pidtree_listen_event v4_record() {
  pidtree_listen_event raw;
  std::memset(&raw, 0, sizeof(raw));
  raw.ts_boot_ns = 123456789;
  raw.kind = PIDTREE_EVENT_NET_LISTEN;
  raw.pid = 4242;
  raw.tid = 4243;
  raw.uid = 1000;
  raw.netns = 4026531840u;
  raw.family = 2;
  raw.port = 8080;
  raw.protocol = 6;
  const uint8_t addr[4] = {127, 0, 0, 1};
  std::memcpy(raw.laddr, addr, 4);
  std::memcpy(raw.comm, "nginx", 5);
  return raw;
}

TEST(ListenRecord, LayoutIsFixed) {
  // The BPF side writes this layout; a change here must be a change there.
  EXPECT_EQ(sizeof(pidtree_listen_event), 88u);
  EXPECT_EQ(offsetof(pidtree_listen_event, loginuid), 72u);
  EXPECT_EQ(offsetof(pidtree_listen_event, cgroup_id), 80u);
  EXPECT_EQ(offsetof(pidtree_listen_event, kind), 8u);
  EXPECT_EQ(offsetof(pidtree_listen_event, netns), 24u);
  EXPECT_EQ(offsetof(pidtree_listen_event, family), 28u);
  EXPECT_EQ(offsetof(pidtree_listen_event, port), 30u);
  EXPECT_EQ(offsetof(pidtree_listen_event, protocol), 32u);
  EXPECT_EQ(offsetof(pidtree_listen_event, laddr), 40u);
  EXPECT_EQ(offsetof(pidtree_listen_event, comm), 56u);
}

TEST(ListenRecord, DecodesIpv4Tcp) {
  pidtree_listen_event raw = v4_record();
  auto ev = decode_listen_event(&raw, sizeof(raw));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->ts_boot_ns, 123456789u);
  EXPECT_EQ(ev->pid, 4242u);
  EXPECT_EQ(ev->tid, 4243u);
  EXPECT_EQ(ev->uid, 1000u);
  EXPECT_EQ(ev->netns, 4026531840u);
  EXPECT_EQ(ev->family, Family::kIpv4);
  EXPECT_EQ(format_ip(ev->laddr), "127.0.0.1");
  EXPECT_EQ(ev->port, 8080);
  EXPECT_EQ(ev->protocol, Protocol::kTcp);
  EXPECT_EQ(ev->comm, "nginx");
  EXPECT_FALSE(ev->snapshot);
  EXPECT_EQ(ev->task().uid, std::optional<uint32_t>(1000));
}

TEST(ListenRecord, DecodesIpv6UdpAndTheWildcard) {
  pidtree_listen_event raw = v4_record();
  raw.family = 10;
  raw.protocol = 17;
  std::memset(raw.laddr, 0, 16);
  auto ev = decode_listen_event(&raw, sizeof(raw));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(format_ip(ev->laddr), "::");
  EXPECT_EQ(ev->protocol, Protocol::kUdp);
  raw.family = 2;
  ev = decode_listen_event(&raw, sizeof(raw));
  EXPECT_EQ(format_ip(ev->laddr), "0.0.0.0");
}

TEST(ListenRecord, RejectsWhatIsNotAListen) {
  pidtree_listen_event raw = v4_record();
  EXPECT_FALSE(decode_listen_event(&raw, sizeof(raw) - 1).has_value());
  EXPECT_FALSE(decode_listen_event(nullptr, sizeof(raw)).has_value());
  raw.kind = PIDTREE_EVENT_TCP_CONNECT;
  EXPECT_FALSE(decode_listen_event(&raw, sizeof(raw)).has_value());
  raw = v4_record();
  raw.family = 1;
  EXPECT_FALSE(decode_listen_event(&raw, sizeof(raw)).has_value());
  raw = v4_record();
  raw.protocol = 132;  // SCTP
  EXPECT_FALSE(decode_listen_event(&raw, sizeof(raw)).has_value());
  // An unterminated comm is cut at its 16 bytes.
  raw = v4_record();
  std::memset(raw.comm, 'x', sizeof(raw.comm));
  EXPECT_EQ(decode_listen_event(&raw, sizeof(raw))->comm, std::string(16, 'x'));
  // Through the shared dispatcher too.
  raw = v4_record();
  auto any = decode_event(&raw, sizeof(raw));
  ASSERT_TRUE(any.has_value());
  EXPECT_TRUE(std::holds_alternative<ListenEvent>(*any));
}

Ancestry tree() {
  Ancestry a;
  a.tree.push_back(ProcNode{4242, "nginx -g daemon off;", "www-data"});
  a.tree.push_back(ProcNode{1, "/sbin/init", "root"});
  return a;
}

TEST(ListenLine, HasUpstreamsFieldsAndOurs) {
  pidtree_listen_event raw = v4_record();
  ListenEvent ev = *decode_listen_event(&raw, sizeof(raw));
  std::string line = event_line(ev, tree(), "alice", "2026-12-01T00:00:00Z");
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  auto j = nlohmann::ordered_json::parse(line);
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it)
    keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "timestamp", "probe", "pid", "tid", "comm", "uid",
                      "username", "family", "laddr", "port", "protocol",
                      "netns", "snapshot", "proctree", "error"}));
  EXPECT_EQ(j["probe"], "net_listen");
  EXPECT_EQ(j["laddr"], "127.0.0.1");
  EXPECT_EQ(j["port"], 8080);
  EXPECT_EQ(j["protocol"], "tcp");
  EXPECT_EQ(j["netns"], 4026531840u);
  EXPECT_EQ(j["snapshot"], false);
  EXPECT_EQ(j["family"], "ipv4");
  EXPECT_EQ(j["proctree"][0]["cmdline"], "nginx -g daemon off;");
  EXPECT_EQ(j["error"], "");
}

TEST(ListenLine, SnapshotHasNoThreadAndIsMarked) {
  ListenEvent ev;
  ev.snapshot = true;
  ev.pid = 7;
  ev.tid = 99;
  ev.uid = 0;
  ev.family = Family::kIpv6;
  ev.laddr = parse_ip("2001:db8::7");
  ev.port = 53;
  ev.protocol = Protocol::kUdp;
  ev.comm = "dns\"\n{";
  json j = json::parse(event_line(ev, tree(), "root", "T"));
  EXPECT_FALSE(j.contains("tid"));
  EXPECT_EQ(j["snapshot"], true);
  EXPECT_EQ(j["laddr"], "2001:db8::7");
  EXPECT_EQ(j["protocol"], "udp");
  EXPECT_EQ(j["comm"], "dns\"\n{");
  // A snapshot's uid is the socket's: no news of the process's.
  EXPECT_FALSE(ev.task().uid.has_value());
}

// ---- configuration ----------------------------------------------------------

using testing::error_of;
using testing::load;

const NetListenSettings &settings(const FileConfig &c) {
  const auto *s = c.section("net_listen").settings_as<NetListenSettings>();
  EXPECT_NE(s, nullptr);
  static NetListenSettings none;
  return s ? *s : none;
}

TEST(NetListenConfig, UpstreamDefaults) {
  FileConfig c = load("net_listen:\n");
  ASSERT_TRUE(c.section("net_listen").present);
  const NetListenSettings &s = settings(c);
  EXPECT_TRUE(s.tcp);
  EXPECT_FALSE(s.udp);
  EXPECT_EQ(s.snapshot_period_ms, 0u);
  EXPECT_FALSE(s.same_namespace_only);
  EXPECT_FALSE(s.exclude_random_bind);
  EXPECT_FALSE(c.section("tcp_connect").present);
}

TEST(NetListenConfig, EveryUpstreamKey) {
  FileConfig c = load(
      "net_listen:\n"
      "  snapshot_periodicity: 43200\n"
      "  protocols: [udp, tcp]\n"
      "  same_namespace_only: True\n"
      "  exclude_random_bind: yes\n"
      "  filters:\n"
      "    - subnet_name: 127\n"
      "      network: 127.0.0.0\n"
      "      network_mask: 255.0.0.0\n"
      "  excludeports: [22222, 30000-40000]\n"
      "  container_labels: [a=b]\n"
      "  plugins: {loginuidmap: {enabled: true}}\n");
  const NetListenSettings &s = settings(c);
  EXPECT_TRUE(s.tcp);
  EXPECT_TRUE(s.udp);
  EXPECT_EQ(s.snapshot_period_ms, 43200000u);
  EXPECT_TRUE(s.same_namespace_only);
  EXPECT_TRUE(s.exclude_random_bind);
  FilterConfig f = section_filters(c.section("net_listen"));
  ASSERT_EQ(f.rules.size(), 1u);
  EXPECT_TRUE(is_filtered(f, parse_ip("127.0.0.53"), 53));
  EXPECT_TRUE(is_filtered(f, parse_ip("0.0.0.0"), 35000));
  EXPECT_FALSE(is_filtered(f, parse_ip("0.0.0.0"), 8080));
}

TEST(NetListenConfig, SnapshotPeriodicityAsUpstreamTakesIt) {
  auto period = [](const char *value) {
    return settings(load(std::string("net_listen:\n  snapshot_periodicity: ") +
                         value + "\n"))
        .snapshot_period_ms;
  };
  EXPECT_EQ(period("false"), 0u);
  EXPECT_EQ(period("0"), 0u);
  EXPECT_EQ(period("600"), 600000u);
  EXPECT_EQ(period("1.5"), 1500u);
  EXPECT_EQ(period("0.25"), 250u);
  EXPECT_EQ(period("31536000"), 31536000000u);
  FileConfig c = load("net_listen:\n  snapshot_periodicity: true\n");
  EXPECT_EQ(settings(c).snapshot_period_ms, 1000u);
  ASSERT_EQ(c.notes.size(), 1u);
  EXPECT_NE(c.notes[0].find("a snapshot every second"), std::string::npos);
  c = load("net_listen:\n  snapshot_periodicity: -5\n");
  EXPECT_EQ(settings(c).snapshot_period_ms, 0u);
  ASSERT_EQ(c.notes.size(), 1u);
  EXPECT_NE(c.notes[0].find("below 0 means no snapshots"), std::string::npos);
}

TEST(NetListenConfig, FlagsTakeBooleansAndZeroOrOne) {
  FileConfig c = load(
      "net_listen:\n  same_namespace_only: 1\n  exclude_random_bind: off\n");
  EXPECT_TRUE(settings(c).same_namespace_only);
  EXPECT_FALSE(settings(c).exclude_random_bind);
}

TEST(NetListenConfig, EmptyProtocolsIsNoted) {
  FileConfig c = load("net_listen:\n  protocols: []\n");
  EXPECT_FALSE(settings(c).tcp);
  EXPECT_FALSE(settings(c).udp);
  ASSERT_EQ(c.notes.size(), 1u);
  EXPECT_NE(c.notes[0].find("net_listen.protocols: no protocol"),
            std::string::npos);
}

TEST(NetListenConfig, ErrorsNameTheLineAndTheKey) {
  const std::pair<const char *, const char *> cases[] = {
      {"net_listen:\n  protocols: tcp\n",
       "F:2:14: net_listen.protocols: expected a list of protocols (tcp, udp)"},
      {"net_listen:\n  protocols: [tcp, sctp]\n",
       "F:2:20: net_listen.protocols[1]: expected tcp or udp, got 'sctp'"},
      {"net_listen:\n  protocols: [[tcp]]\n",
       "F:2:15: net_listen.protocols[0]: expected tcp or udp"},
      {"net_listen:\n  snapshot_periodicity: 1h\n",
       "F:2:25: net_listen.snapshot_periodicity: expected a number of seconds "
       "from 0 to 31536000 (or false), got '1h'"},
      {"net_listen:\n  snapshot_periodicity: 31536001\n",
       "F:2:25: net_listen.snapshot_periodicity: expected a number of seconds "
       "from 0 to 31536000 (or false), got '31536001'"},
      {"net_listen:\n  snapshot_periodicity: 1.2345\n",
       "F:2:25: net_listen.snapshot_periodicity: expected a number of seconds"},
      {"net_listen:\n  snapshot_periodicity: .\n",
       "F:2:25: net_listen.snapshot_periodicity: expected a number of seconds"},
      {"net_listen:\n  snapshot_periodicity: [1]\n",
       "F:2:25: net_listen.snapshot_periodicity: expected a number of seconds "
       "or false"},
      {"net_listen:\n  same_namespace_only: maybe\n",
       "F:2:24: net_listen.same_namespace_only: expected true or false, got "
       "'maybe'"},
      {"net_listen:\n  same_namespace_only: 2\n",
       "F:2:24: net_listen.same_namespace_only: expected true or false, got "
       "'2'"},
      {"net_listen:\n  exclude_random_bind: [1]\n",
       "F:2:24: net_listen.exclude_random_bind: expected true or false"},
      {"net_listen:\n  session_max_duration: 5\n",
       "F:2:3: net_listen: unknown key 'session_max_duration' (expected "
       "filters, includeports, excludeports, plugins, container_labels, "
       "snapshot_periodicity, protocols, same_namespace_only or "
       "exclude_random_bind)"},
      {"tcp_connect:\n  protocols: [tcp]\n",
       "F:2:3: tcp_connect: unknown key 'protocols' (expected filters, "
       "includeports, excludeports, plugins or container_labels)"},
  };
  for (const auto &[text, want] : cases) {
    std::string got = error_of(text);
    EXPECT_EQ(got.find(want), 0u) << text << "\n got: " << got;
    EXPECT_EQ(got.find('\n'), std::string::npos) << got;
  }
}

// ---- the probe --------------------------------------------------------------

TEST(NetListenProbe, SettingsGoToTheKernelAsData) {
  FileConfig c = load(
      "net_listen:\n  same_namespace_only: true\n  exclude_random_bind: "
      "true\n");
  NetListenProbe p(Backend::kTracepoint, c.section("net_listen"), 77);
  pidtree_probe_settings s = p.settings();
  EXPECT_EQ(s.flags, static_cast<uint32_t>(PIDTREE_LISTEN_SAME_NETNS |
                                           PIDTREE_LISTEN_NO_RANDOM_BIND));
  EXPECT_EQ(s.netns, 77u);
  EXPECT_EQ(p.slot(), PIDTREE_SLOT_NET_LISTEN);
  NetListenProbe plain(Backend::kTracepoint,
                       load("net_listen:\n").section("net_listen"), 77);
  EXPECT_EQ(plain.settings().flags, 0u);
  // No default filters, as upstream.
  EXPECT_TRUE(plain.filters().rules.empty());
}

TEST(NetListenProbe, ReloadTakesFiltersAndFlagsAndNotesTheRest) {
  NetListenProbe p(
      Backend::kTracepoint,
      load("net_listen:\n  protocols: [tcp]\n").section("net_listen"), 77);
  FileConfig next = load(
      "net_listen:\n  protocols: [tcp, udp]\n  snapshot_periodicity: 60\n"
      "  same_namespace_only: true\n  excludeports: [22]\n");
  EXPECT_EQ(p.validate(next), "");
  std::vector<std::string> notes;
  p.reconfigure(next, &notes);
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_NE(notes[0].find("net_listen.protocols changed"), std::string::npos);
  EXPECT_NE(notes[1].find("snapshot_periodicity changed"), std::string::npos);
  EXPECT_EQ(p.settings().flags,
            static_cast<uint32_t>(PIDTREE_LISTEN_SAME_NETNS));
  EXPECT_EQ(p.filters().port_mode, PortMode::kExclude);
  // What the probe was started with stays: no UDP hooks to take UDP.
  ListenEvent udp;
  udp.protocol = Protocol::kUdp;
  udp.netns = 77;
  udp.laddr = parse_ip("0.0.0.0");
  udp.port = 53;
  EXPECT_FALSE(p.keep(udp));
}

TEST(NetListenProbe, SnapshotKeepsWhatTheFiltersKeep) {
  NetListenProbe p(
      Backend::kTracepoint,
      load("net_listen:\n  protocols: [tcp, udp]\n  same_namespace_only: "
           "true\n  filters:\n    - {subnet_name: lo, network: 127.0.0.0/8, "
           "except_ports: [8080]}\n  excludeports: [22]\n")
          .section("net_listen"),
      77);
  auto ev = [](const char *addr, uint16_t port, uint32_t netns) {
    ListenEvent e;
    e.laddr = parse_ip(addr);
    e.family = e.laddr.family;
    e.port = port;
    e.netns = netns;
    return e;
  };
  EXPECT_TRUE(p.keep(ev("0.0.0.0", 80, 77)));
  EXPECT_FALSE(p.keep(ev("0.0.0.0", 80, 78)));  // another namespace
  EXPECT_FALSE(p.keep(ev("0.0.0.0", 22, 77)));  // excludeports
  EXPECT_FALSE(p.keep(ev("127.0.0.1", 80, 77)));
  EXPECT_TRUE(p.keep(ev("127.0.0.1", 8080, 77)));        // except_ports
  EXPECT_FALSE(p.keep(ev("::ffff:127.0.0.1", 80, 77)));  // mapped: as v4
}

// ---- snapshots --------------------------------------------------------------

const char kTcp[] =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
    "retrnsmt   uid  timeout inode\n"
    "   0: 0100007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 "
    "00000000   101        0 1001 1 0000000000000000 100 0 0 10 0\n"
    "   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 "
    "00000000     0        0 1002 1 0000000000000000 100 0 0 10 0\n"
    // Established: not a listener.
    "   2: 0100007F:D2C4 0100007F:1F90 01 00000000:00000000 00:00000000 "
    "00000000  1000        0 1003 1 0000000000000000 20 4 30 10 -1\n"
    // Junk is skipped.
    "   3: 0100007G:0035 00000000:0000 0A 00000000:00000000 00:00000000 "
    "00000000   101        0 1004 1\n"
    "garbage\n"
    "   4: 0100007F:0035\n";

const char kTcp6[] =
    "  sl  local_address                         remote_address           "
    "             st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n"
    "   0: 00000000000000000000000000000000:0016 "
    "00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 "
    "00000000     0        0 2001 1 0000000000000000 100 0 0 10 0\n"
    "   1: B80D0120000000000000000007000000:01BB "
    "00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 "
    "00000000     0        0 2002 1 0000000000000000 100 0 0 10 0\n";

const char kUdp[] =
    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
    "retrnsmt   uid  timeout inode ref pointer drops\n"
    "  100: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 "
    "00000000   102        0 3001 2 0000000000000000 0\n"
    // No local port: not bound.
    "  101: 00000000:0000 00000000:0000 07 00000000:00000000 00:00000000 "
    "00000000     0        0 3002 2 0000000000000000 0\n";

TEST(ProcNet, ParsesListenersAndBoundUdp) {
  auto tcp = parse_proc_net(kTcp, Protocol::kTcp, Family::kIpv4);
  ASSERT_EQ(tcp.size(), 2u);
  EXPECT_EQ(format_ip(tcp[0].laddr), "127.0.0.1");
  EXPECT_EQ(tcp[0].port, 53);
  EXPECT_EQ(tcp[0].uid, 101u);
  EXPECT_EQ(tcp[0].inode, 1001u);
  EXPECT_EQ(format_ip(tcp[1].laddr), "0.0.0.0");
  EXPECT_EQ(tcp[1].port, 8080);
  auto tcp6 = parse_proc_net(kTcp6, Protocol::kTcp, Family::kIpv6);
  ASSERT_EQ(tcp6.size(), 2u);
  EXPECT_EQ(format_ip(tcp6[0].laddr), "::");
  EXPECT_EQ(tcp6[0].port, 22);
  EXPECT_EQ(format_ip(tcp6[1].laddr), "2001:db8::7");
  EXPECT_EQ(tcp6[1].port, 443);
  auto udp = parse_proc_net(kUdp, Protocol::kUdp, Family::kIpv4);
  ASSERT_EQ(udp.size(), 1u);
  EXPECT_EQ(format_ip(udp[0].laddr), "127.0.0.53");
  EXPECT_EQ(udp[0].protocol, Protocol::kUdp);
}

TEST(ProcNet, HostileTextNeverCrashes) {
  // Truncated lines, huge numbers, a v6 file read as v4 and the reverse.
  std::string text = "header\n";
  for (int i = 0; i < 200; ++i)
    text += "   " + std::to_string(i) + ": " + std::string(i % 40, 'F') +
            ":FFFFF 0 0A 0:0 0:0 0 99999999999999999999999 0 " +
            std::string(i % 30, '9') + "\n";
  EXPECT_TRUE(parse_proc_net(text, Protocol::kTcp, Family::kIpv4).empty());
  EXPECT_TRUE(parse_proc_net(kTcp6, Protocol::kTcp, Family::kIpv4).empty());
  EXPECT_TRUE(parse_proc_net(kTcp, Protocol::kTcp, Family::kIpv6).empty());
  EXPECT_TRUE(parse_proc_net("", Protocol::kUdp, Family::kIpv4).empty());
  EXPECT_TRUE(
      parse_proc_net(std::string(1000, '\0'), Protocol::kUdp, Family::kIpv4)
          .empty());
}

TEST(ProcNet, Links) {
  EXPECT_EQ(socket_link_inode("socket:[12345]"), 12345u);
  EXPECT_EQ(socket_link_inode("socket:[]"), 0u);
  EXPECT_EQ(socket_link_inode("pipe:[12345]"), 0u);
  EXPECT_EQ(socket_link_inode("socket:[12a]"), 0u);
  EXPECT_EQ(socket_link_inode("/dev/null"), 0u);
  EXPECT_EQ(netns_link_inode("net:[4026531840]"), 4026531840u);
  EXPECT_EQ(netns_link_inode("net:[99999999999]"), 0u);
  EXPECT_EQ(netns_link_inode("mnt:[4026531840]"), 0u);
}

class FakeSockets : public SocketSource {
 public:
  struct Proc {
    std::string netns;
    std::vector<std::string> fds;
    std::map<std::string, std::string> net;
    std::string comm;
  };
  std::map<uint32_t, Proc> procs;
  uint64_t clock = 1000;
  std::vector<std::pair<uint32_t, std::string>> net_reads;

  std::vector<uint32_t> pids() override {
    std::vector<uint32_t> out;
    for (const auto &kv : procs)
      out.push_back(kv.first);
    out.push_back(999);  // gone before it is read
    return out;
  }
  std::string netns_link(uint32_t pid) override {
    return procs.count(pid) ? procs[pid].netns : "";
  }
  std::vector<std::string> fd_links(uint32_t pid) override {
    return procs.count(pid) ? procs[pid].fds : std::vector<std::string>{};
  }
  bool net_file(uint32_t pid, const char *file, std::string *text) override {
    net_reads.emplace_back(pid, file);
    if (!procs.count(pid) || !procs[pid].net.count(file))
      return false;
    *text = procs[pid].net[file];
    return true;
  }
  std::string comm(uint32_t pid) override { return procs[pid].comm; }
  uint64_t now_ns() override { return clock += 10; }
};

TEST(Snapshot, EverySocketOncePerOwnerInEveryNamespace) {
  FakeSockets src;
  // The host namespace: 10 and 11 share listener 1002 (a pre-forking
  // server; 10 holds it twice), 12 owns nothing.
  // (A namespace's /proc/net files list only its own sockets: the host's
  // tcp6 has the first line of kTcp6, the other namespace's the second.)
  std::string tcp6 = kTcp6;
  size_t second = tcp6.find("   1: ");
  std::string host_tcp6 = tcp6.substr(0, second);
  std::string other_tcp6 =
      tcp6.substr(0, tcp6.find("   0: ")) + tcp6.substr(second);
  src.procs[10] = {"net:[1]",
                   {"socket:[1002]", "/dev/null", "socket:[1002]"},
                   {{"tcp", kTcp}, {"tcp6", host_tcp6}, {"udp", kUdp}},
                   "nginx"};
  src.procs[11] = {"net:[1]", {"socket:[1002]", "socket:[3001]"}, {}, "worker"};
  src.procs[12] = {"net:[1]", {"socket:[1003]"}, {}, "curl"};
  // Another namespace with a v6 listener; its /proc/net is read through
  // its own process.
  src.procs[20] = {
      "net:[2]", {"socket:[2002]"}, {{"tcp6", other_tcp6}}, "sshd"};
  auto found =
      scan_listeners(src, true, true, [](const ListenEvent &) { return true; });
  std::vector<std::string> got;
  for (const auto &e : found) {
    EXPECT_TRUE(e.snapshot);
    EXPECT_GT(e.ts_boot_ns, 1000u);
    got.push_back(std::to_string(e.pid) + " " + e.comm + " " +
                  format_ip(e.laddr) + ":" + std::to_string(e.port) + " " +
                  (e.protocol == Protocol::kTcp ? "tcp" : "udp") + " ns" +
                  std::to_string(e.netns) + " uid" + std::to_string(e.uid));
  }
  EXPECT_EQ(got,
            (std::vector<std::string>{"10 nginx 0.0.0.0:8080 tcp ns1 uid0",
                                      "11 worker 0.0.0.0:8080 tcp ns1 uid0",
                                      "11 worker 127.0.0.53:53 udp ns1 uid102",
                                      "20 sshd 2001:db8::7:443 tcp ns2 uid0"}));
  // One reader per namespace.
  for (const auto &r : src.net_reads)
    EXPECT_TRUE(r.first == 10 || r.first == 20) << r.first;
}

TEST(Snapshot, ProtocolsAndFiltersChooseWhatIsRead) {
  FakeSockets src;
  src.procs[10] = {"net:[1]",
                   {"socket:[1001]", "socket:[1002]", "socket:[3001]"},
                   {{"tcp", kTcp}, {"udp", kUdp}},
                   "d"};
  auto udp_only = scan_listeners(src, false, true,
                                 [](const ListenEvent &) { return true; });
  ASSERT_EQ(udp_only.size(), 1u);
  EXPECT_EQ(udp_only[0].port, 53);
  for (const auto &r : src.net_reads)
    EXPECT_TRUE(r.second == "udp" || r.second == "udp6") << r.second;
  auto filtered = scan_listeners(
      src, true, true, [](const ListenEvent &e) { return e.port != 8080; });
  ASSERT_EQ(filtered.size(), 2u);  // 127.0.0.1:53 tcp and 127.0.0.53:53 udp
}

TEST(Snapshot, ProcessesThatVanishAreSkipped) {
  FakeSockets src;
  src.procs[10] = {"", {"socket:[1002]"}, {{"tcp", kTcp}}, "gone"};
  EXPECT_TRUE(scan_listeners(src, true, true, [](const ListenEvent &) {
                return true;
              }).empty());
}

TEST(Snapshot, ReadsTheRealProc) {
  // This test process listens: the scan of the real /proc finds it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len), 0);
  ProcSocketSource src;
  auto found = scan_listeners(src, true, false,
                              [](const ListenEvent &) { return true; });
  bool seen = false;
  for (const auto &e : found)
    seen = seen || (e.pid == static_cast<uint32_t>(getpid()) &&
                    e.port == ntohs(a.sin_port));
  EXPECT_TRUE(seen);
  ::close(fd);
}

}  // namespace
}  // namespace pidtree
