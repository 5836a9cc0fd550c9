// The enrich stage: container_labels matching, the runtimes' metadata,
// cgroup names, the registry, host files, plugins and their configuration,
// and what the enricher adds to (or drops from) a line.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "config_text.h"
#include "enrich/cgroup_event.h"
#include "enrich/containers.h"
#include "enrich/enricher.h"
#include "enrich/labels.h"
#include "enrich/plugins.h"
#include "output/json.h"
#include "probes/events.h"
#include "probes/tcp_connect/connect_event.h"

namespace pidtree {
namespace {

using testing::error_of;
using testing::load;
using testing::TempFile;

const std::string kId(64, 'a');
const std::string kId2(64, 'b');

LabelRule rule(std::vector<std::pair<std::string, std::string>> terms) {
  return LabelRule{std::move(terms)};
}

// ---- container_labels

TEST(Labels, EachEntryIsAnAndAndEntriesAreOred) {
  std::vector<LabelRule> rules = {rule({{"team", "pay*"}}),
                                  rule({{"env", "prod"}, {"tier", "web"}})};
  EXPECT_TRUE(labels_match(rules, {{"team", "payments"}}));
  EXPECT_TRUE(labels_match(rules, {{"env", "prod"}, {"tier", "web"}}));
  EXPECT_TRUE(
      labels_match(rules, {{"env", "prod"}, {"tier", "web"}, {"x", "y"}}));
  EXPECT_FALSE(labels_match(rules, {{"env", "prod"}}));  // partial
  EXPECT_FALSE(labels_match(rules, {{"team", "search"}}));
  EXPECT_FALSE(labels_match(rules, {}));  // no labels: never
  EXPECT_FALSE(labels_match({}, {{"team", "payments"}}));
}

TEST(Labels, GlobsAreFnmatchs) {
  auto match = [](const std::string &glob, const std::string &value) {
    return labels_match({rule({{"k", glob}})}, {{"k", value}});
  };
  EXPECT_TRUE(match("a?c", "abc"));
  EXPECT_FALSE(match("a?c", "abbc"));
  EXPECT_TRUE(match("[ab]x", "bx"));
  EXPECT_TRUE(match("[!ab]x", "cx"));
  EXPECT_TRUE(match("*", ""));
  EXPECT_TRUE(match("a/*", "a/b/c"));  // no path semantics, as Python's
  EXPECT_FALSE(match("ABC", "abc"));   // case matters
}

// ---- configuration

TEST(PluginConfig, UpstreamsPluginsLoad) {
  TempFile hosts("10.0.0.1 db\n");
  FileConfig c = load(
      "tcp_connect:\n"
      "  plugins:\n"
      "    sourceipmap:\n"
      "      enabled: true\n"
      "      hostfiles: ['" +
      hosts.path() +
      "']\n"
      "      attribute_key: host\n"
      "    loginuidmap:\n"
      "      top_level: true\n"
      "    identityplugin: {}\n"
      "  container_labels: [team=pay*, 'env=prod,tier=web']\n"
      "net_listen:\n"
      "  plugins:\n"
      "    loginuidmap: {enabled: false}\n");
  const ProbeConfig &tc = c.section("tcp_connect");
  ASSERT_EQ(tc.plugins.size(), 3u);
  EXPECT_EQ(tc.plugins[0].name, "sourceipmap");
  EXPECT_EQ(tc.plugins[0].hostfiles, std::vector<std::string>{hosts.path()});
  EXPECT_EQ(tc.plugins[0].attribute_key, "host");
  EXPECT_TRUE(tc.plugins[1].top_level);
  EXPECT_EQ(tc.plugins[2].name, "identityplugin");
  ASSERT_EQ(tc.container_labels.size(), 2u);
  EXPECT_EQ(tc.container_labels[1].terms.size(), 2u);
  EXPECT_EQ(tc.container_labels[1].terms[1].second, "web");
  EXPECT_TRUE(c.section("net_listen").plugins.empty());  // disabled
  for (const auto &note : c.notes)
    EXPECT_EQ(note.find("plugins are validated"), std::string::npos) << note;
}

TEST(PluginConfig, ProblemsNameTheLineOrUnloadThePlugin) {
  EXPECT_EQ(error_of("net_listen:\n  plugins:\n    sourceipmap:\n"
                     "      hostfiles: [/etc/hosts]\n"),
            "F:3:5: net_listen.plugins.sourceipmap: plugin sourceipmap does "
            "not support probe net_listen (only tcp_connect)");
  EXPECT_EQ(error_of("udp_session:\n  plugins:\n    loginuidmap: {}\n"),
            "F:3:5: udp_session.plugins.loginuidmap: plugin loginuidmap does "
            "not support probe udp_session (only tcp_connect and net_listen)");
  EXPECT_EQ(error_of("tcp_connect:\n  plugins:\n    sourceipmap: {}\n"),
            "F:3:18: tcp_connect.plugins.sourceipmap: sourceipmap needs "
            "'hostfiles' (a list of files)");
  EXPECT_EQ(error_of("tcp_connect:\n  plugins:\n    nosuch: {}\n"),
            "F:3:5: tcp_connect.plugins: unknown plugin 'nosuch' (expected "
            "sourceipmap, loginuidmap or identityplugin)");
  EXPECT_EQ(error_of("tcp_connect:\n  plugins:\n    loginuidmap:\n"
                     "      top_level: maybe\n"),
            "F:4:18: tcp_connect.plugins.loginuidmap.top_level: expected true "
            "or false");
  // unload_on_init_exception: a note, and the tracer runs without it.
  FileConfig c = load(
      "tcp_connect:\n  plugins:\n    nosuch: {unload_on_init_exception: "
      "true}\n    loginuidmap:\n      unload_on_init_exception: true\n"
      "      top_level: maybe\n    identityplugin: {}\n");
  ASSERT_EQ(c.section("tcp_connect").plugins.size(), 1u);
  EXPECT_EQ(c.section("tcp_connect").plugins[0].name, "identityplugin");
  int unloaded = 0;
  for (const auto &note : c.notes)
    unloaded += note.find("plugin unloaded (unload_on_init_exception)") !=
                std::string::npos;
  EXPECT_EQ(unloaded, 2);
  // enabled itself must be a boolean whatever unload says.
  EXPECT_NE(error_of("tcp_connect:\n  plugins:\n    loginuidmap:\n"
                     "      enabled: perhaps\n"
                     "      unload_on_init_exception: true\n")
                .find("loginuidmap.enabled: expected true or false"),
            std::string::npos);
}

TEST(ContainerLabelsConfig, BadPatternsNameTheLine) {
  EXPECT_EQ(error_of("tcp_connect:\n  container_labels: [team]\n"),
            "F:2:22: tcp_connect.container_labels[0]: expected KEY=GLOB for "
            "each comma-separated term, not 'team'");
  EXPECT_EQ(error_of("tcp_connect:\n  container_labels: ['a=b,,c=d']\n"),
            "F:2:22: tcp_connect.container_labels[0]: expected KEY=GLOB for "
            "each comma-separated term, not ''");
  EXPECT_EQ(error_of("tcp_connect:\n  container_labels: ['=x']\n"),
            "F:2:22: tcp_connect.container_labels[0]: expected KEY=GLOB for "
            "each comma-separated term, not '=x'");
  EXPECT_NE(error_of("tcp_connect:\n  container_labels: team=x\n")
                .find("expected a list of label patterns"),
            std::string::npos);
  // A value may hold '=' (the first one splits, as upstream).
  FileConfig c = load("tcp_connect:\n  container_labels: ['k=a=b']\n");
  EXPECT_EQ(c.section("tcp_connect").container_labels[0].terms[0].second,
            "a=b");
}

// ---- runtimes' metadata

TEST(Runtimes, DockerConfig) {
  auto c = parse_docker_config(
      R"({"ID":"x","Name":"/web-1","Config":{"Image":"nginx:1.25",)"
      R"("Labels":{"team":"payments","n":1}},"State":{"Pid":42}})",
      kId);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->id, kId);
  EXPECT_EQ(c->name, "web-1");
  EXPECT_EQ(c->runtime, "docker");
  EXPECT_EQ(c->image, "nginx:1.25");
  EXPECT_EQ(c->labels, (std::map<std::string, std::string>{
                           {"team", "payments"}}));  // only strings
  // As upstream: no name, the pod's.
  c = parse_docker_config(
      R"({"Name":"","Config":{"Labels":{"io.kubernetes.pod.name":"pod-a"}}})",
      kId);
  EXPECT_EQ(c->name, "pod-a");
  // Hostile or broken files: no container, no crash.
  for (const char *bad : {"", "{", "[]", "null", "\"x\"", "{\"Name\":[1]}"}) {
    auto got = parse_docker_config(bad, kId);
    if (got) {
      EXPECT_EQ(got->name, "") << bad;
    }
  }
  std::string huge = "{\"Name\":\"/" + std::string(100000, 'n') +
                     "\",\"Config\":{\"Labels\":{";
  for (int i = 0; i < 1000; ++i)
    huge +=
        (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":\"v\"";
  huge += "}}}";
  c = parse_docker_config(huge, kId);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->name, std::string(4095, 'n'));  // cut at 4 KiB, '/' off
  EXPECT_EQ(c->labels.size(), 256u);
}

TEST(Runtimes, PodmanAndOci) {
  auto p = parse_podman_containers(
      R"([{"id":"other","names":["x"]},{"id":")" + kId +
          R"(","names":["db"],"image":"f00",)"
          R"("metadata":"{\"image-name\":\"docker.io/library/postgres:16\"}"}])",
      kId);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->name, "db");
  EXPECT_EQ(p->runtime, "podman");
  EXPECT_EQ(p->image, "docker.io/library/postgres:16");
  EXPECT_FALSE(parse_podman_containers(R"([{"id":"other"}])", kId));
  EXPECT_FALSE(parse_podman_containers("{}", kId));
  auto o = parse_oci_config(
      R"({"annotations":{"io.kubernetes.cri.sandbox-name":"pod-b",)"
      R"("io.kubernetes.cri.image-name":"redis:7","app":"cache"}})",
      kId);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->name, "pod-b");
  EXPECT_EQ(o->image, "redis:7");
  EXPECT_EQ(o->labels.at("app"), "cache");
}

TEST(Runtimes, CgroupNamesSayTheIdAndRuntime) {
  auto n = container_of_cgroup("docker/" + kId);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->id, kId);
  EXPECT_EQ(n->runtime, "docker");
  EXPECT_EQ(
      container_of_cgroup("system.slice/docker-" + kId + ".scope")->runtime,
      "docker");
  EXPECT_EQ(container_of_cgroup("libpod_parent/libpod-" + kId)->runtime,
            "podman");
  EXPECT_EQ(
      container_of_cgroup("kubepods.slice/x/cri-containerd-" + kId + ".scope")
          ->runtime,
      "containerd");
  EXPECT_EQ(container_of_cgroup("kubepods/burstable/pod1/" + kId)->runtime, "");
  EXPECT_FALSE(container_of_cgroup("user.slice/user-0.slice"));
  // A container's own sub-cgroups are its.
  n = container_of_cgroup("docker/" + kId + "/init.scope");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->id, kId);
  EXPECT_EQ(n->runtime, "docker");
  EXPECT_FALSE(container_of_cgroup("docker/" + kId.substr(1)));
  EXPECT_FALSE(container_of_cgroup("docker/" + kId + "x"));
  EXPECT_FALSE(container_of_cgroup("docker/" + std::string(64, 'A')));
  EXPECT_FALSE(container_of_cgroup(""));
}

// ---- the registry, over fakes

class FakeTree : public CgroupTree {
 public:
  std::vector<Dir> tree;
  std::map<uint32_t, std::string> pids;
  int walks = 0;
  std::vector<Dir> dirs() override {
    ++walks;
    return tree;
  }
  uint64_t inode(const std::string &path) override {
    for (const auto &d : tree)
      if (d.path == path)
        return d.inode;
    return 0;
  }
  std::optional<std::string> path_of(uint32_t pid) override {
    auto it = pids.find(pid);
    if (it == pids.end())
      return std::nullopt;
    return it->second;
  }
};

class FakeState : public RuntimeState {
 public:
  std::map<std::string, Container> known;
  std::map<std::string, uint64_t> versions;
  int reads = 0;
  std::optional<Container> read(const std::string &id,
                                const std::string &) override {
    ++reads;
    auto it = known.find(id);
    if (it == known.end())
      return std::nullopt;
    return it->second;
  }
  uint64_t version(const Container &c) override { return versions[c.id]; }
};

Container container(const std::string &id, const std::string &name,
                    std::map<std::string, std::string> labels = {}) {
  Container c;
  c.id = id;
  c.name = name;
  c.runtime = "docker";
  c.image = "img";
  c.labels = std::move(labels);
  return c;
}

TEST(Registry, LooksUpByCgroupInodeAndRemembersHostCgroups) {
  FakeTree tree;
  FakeState state;
  tree.tree = {
      {"", 1}, {"docker", 10}, {"docker/" + kId, 11}, {"user.slice", 12}};
  state.known[kId] = container(kId, "web");
  ContainerRegistry r(tree, state);
  auto c = r.lookup(11);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->name, "web");
  EXPECT_FALSE(r.lookup(12));
  EXPECT_FALSE(r.lookup(1));
  int walks = tree.walks;
  EXPECT_FALSE(r.lookup(12));  // remembered: no walk
  EXPECT_TRUE(r.lookup(11));
  EXPECT_EQ(tree.walks, walks);
  EXPECT_FALSE(r.lookup(0));
}

TEST(Registry, ANewContainerIsFoundAtItsFirstEventAndForgottenWhenGone) {
  FakeTree tree;
  FakeState state;
  tree.tree = {{"", 1}};
  ContainerRegistry r(tree, state);
  EXPECT_FALSE(r.lookup(1));
  tree.tree.push_back({"docker/" + kId2, 20});
  state.known[kId2] = container(kId2, "late");
  auto c = r.lookup(20);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->name, "late");
  // Renamed: the metadata file changed.
  state.known[kId2].name = "renamed";
  state.versions[kId2] = 7;
  auto t0 = ContainerRegistry::Clock::now() + std::chrono::hours(1);
  EXPECT_TRUE(r.sweep(t0).empty());
  EXPECT_EQ(r.lookup(20)->name, "renamed");
  // Gone: forgotten at the next sweep.
  tree.tree.pop_back();
  auto gone = r.sweep(t0 + std::chrono::seconds(3));
  EXPECT_EQ(gone, std::vector<uint64_t>{20});
  EXPECT_FALSE(r.lookup(20));
}

TEST(Registry, MetadataNotThereYetIsAskedForAgain) {
  FakeTree tree;
  FakeState state;
  tree.tree = {{"", 1}, {"docker/" + kId, 11}};
  ContainerRegistry r(tree, state);
  EXPECT_FALSE(r.lookup(11));  // the runtime has not written it yet
  state.known[kId] = container(kId, "web");
  EXPECT_FALSE(r.lookup(11));  // not before a second has passed
  sleep(1);
  ASSERT_TRUE(r.lookup(11));
  EXPECT_EQ(r.lookup(11)->name, "web");
}

TEST(Registry, BoundedWithHostCgroupsGoingFirst) {
  FakeTree tree;
  FakeState state;
  tree.tree = {{"", 1}, {"docker/" + kId, 11}};
  state.known[kId] = container(kId, "web");
  ContainerRegistry r(tree, state, 4);
  EXPECT_TRUE(r.lookup(11));
  for (uint64_t id = 100; id < 120; ++id)
    EXPECT_FALSE(r.lookup(id));
  EXPECT_LE(r.size(), 4u);
  EXPECT_TRUE(r.lookup(11));
}

TEST(Registry, AProcessesCgroupFromProc) {
  FakeTree tree;
  FakeState state;
  tree.tree = {{"", 1}, {"docker/" + kId, 11}};
  tree.pids[77] = "docker/" + kId;
  state.known[kId] = container(kId, "web");
  ContainerRegistry r(tree, state);
  ASSERT_TRUE(r.lookup_pid(77));
  EXPECT_FALSE(r.lookup_pid(78));
}

TEST(Registry, CgroupFsReadsProcAndTheTree) {
  char dir[] = "/tmp/pidtree-cgfs-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  std::string root = std::string(dir) + "/cg", proc = std::string(dir) + "/p";
  ASSERT_EQ(mkdir(root.c_str(), 0755), 0);
  ASSERT_EQ(mkdir((root + "/docker").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((root + "/docker/" + kId).c_str(), 0755), 0);
  ASSERT_EQ(mkdir(proc.c_str(), 0755), 0);
  ASSERT_EQ(mkdir((proc + "/5").c_str(), 0755), 0);
  std::ofstream(proc + "/5/cgroup") << "12:cpu:/x\n0::/docker/" << kId << "\n";
  CgroupFs fs(root, proc);
  auto dirs = fs.dirs();
  ASSERT_EQ(dirs.size(), 3u);
  EXPECT_EQ(dirs[0].path, "");
  EXPECT_EQ(fs.path_of(5), "docker/" + kId);
  EXPECT_FALSE(fs.path_of(6));
  EXPECT_NE(fs.inode("docker/" + kId), 0u);
  EXPECT_EQ(fs.inode("nope"), 0u);
  std::system(("rm -rf " + std::string(dir)).c_str());
}

// ---- host files and plugins

TEST(HostFiles, ParsedAsEtcHosts) {
  std::unordered_map<std::string, std::string> m;
  size_t skipped = 0;
  parse_hosts(
      "# comment\n10.0.0.1   db  db.internal # primary\n"
      "\n  2001:db8:0:0::1\tsix\nnot-an-ip name\n10.0.0.1 db-again\n"
      "10.0.0.2\n192.0.2.9 \x01odd\xff\n",
      &m, &skipped);
  EXPECT_EQ(m.at("10.0.0.1"), "db-again");  // the later line wins
  EXPECT_EQ(m.at("2001:db8::1"), "six");    // normalised
  EXPECT_EQ(m.at("10.0.0.2"), "");
  EXPECT_EQ(m.at("192.0.2.9"), "\x01odd\xff");  // escaped on output
  EXPECT_EQ(skipped, 1u);
}

TEST(SourceIpMapPlugin, MapsTheSourceAndFollowsTheFiles) {
  TempFile a("198.51.100.7 web01\n192.0.2.1 old\n");
  TempFile b("192.0.2.1 new\n");
  SourceIpMap m({a.path(), b.path()}, "source_host", std::chrono::seconds(0));
  IpAddress src = parse_ip("192.0.2.1");
  std::string f;
  m.add_fields(EventOrigin{PIDTREE_SLOT_TCP_CONNECT, 0, &src, 1}, &f);
  EXPECT_EQ(f, ",\"source_host\":\"new\"");  // the later file wins
  IpAddress mapped = parse_ip("::ffff:198.51.100.7");
  f.clear();
  m.add_fields(EventOrigin{0, 0, &mapped, 1}, &f);
  EXPECT_EQ(f, ",\"source_host\":\"web01\"");
  IpAddress other = parse_ip("203.0.113.1");
  f.clear();
  m.add_fields(EventOrigin{0, 0, &other, 1}, &f);
  EXPECT_EQ(f, ",\"source_host\":\"\"");
  // Changed, then gone: the last map stays.
  {
    std::ofstream out(b.path(), std::ios::trunc);
    out << "192.0.2.1 newer \"quoted\"\n";
  }
  std::vector<std::string> notes;
  m.maintain(Plugin::Clock::now() + std::chrono::seconds(1), &notes);
  f.clear();
  m.add_fields(EventOrigin{0, 0, &src, 1}, &f);
  EXPECT_EQ(f, ",\"source_host\":\"newer \\\"quoted\\\"\"");
  unlink(b.path().c_str());
  m.maintain(Plugin::Clock::now() + std::chrono::seconds(2), &notes);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("is gone"), std::string::npos);
  f.clear();
  m.add_fields(EventOrigin{0, 0, &src, 1}, &f);
  EXPECT_EQ(f, ",\"source_host\":\"newer \\\"quoted\\\"\"");
  m.maintain(Plugin::Clock::now() + std::chrono::seconds(3), &notes);
  EXPECT_EQ(notes.size(), 1u);  // said once
}

TEST(SourceIpMapPlugin, AMissingFileAtStartIsAnError) {
  try {
    SourceIpMap m({"/nonexistent/hosts"}, "source_host");
    FAIL();
  } catch (const std::runtime_error &e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot read host file '/nonexistent/hosts': No such file or "
              "directory");
  }
  try {
    SourceIpMap m({"/tmp"}, "source_host");
    FAIL();
  } catch (const std::runtime_error &e) {
    EXPECT_EQ(std::string(e.what()), "host file '/tmp' is not a regular file");
  }
}

// ---- the enricher

class FakeMaps : public MapAccess {
 public:
  std::map<uint64_t, uint32_t> reports;
  bool update(const char *map, const void *key, const void *value) override {
    if (std::string(map) == "container_reports")
      reports[*static_cast<const uint64_t *>(key)] =
          *static_cast<const uint32_t *>(value);
    return true;
  }
  bool erase(const char *map, const void *key) override {
    if (std::string(map) == "container_reports")
      reports.erase(*static_cast<const uint64_t *>(key));
    return true;
  }
};

struct EnricherSetup {
  FakeTree tree;
  FakeState state;
  ContainerRegistry registry{tree, state};
  Enricher enricher{&registry};
  FakeMaps maps;
  EnricherSetup() {
    tree.tree = {{"", 1},
                 {"docker/" + kId, 11},
                 {"docker/" + kId2, 12},
                 {"user.slice", 13}};
    state.known[kId] = container(kId, "pay", {{"team", "payments"}});
    state.known[kId2] = container(kId2, "search", {{"team", "search"}});
  }
  const std::vector<std::pair<std::string, uint8_t>> probes = {
      {"tcp_connect", PIDTREE_SLOT_TCP_CONNECT},
      {"net_listen", PIDTREE_SLOT_NET_LISTEN},
      {"udp_session", PIDTREE_SLOT_UDP_SESSION}};
};

TEST(Enricher, ContainerFieldsOnContainerEventsAndNoneOnTheHosts) {
  EnricherSetup s;
  std::vector<std::string> notes;
  s.enricher.configure(FileConfig{}, s.probes, &notes);
  const Enrichment *e =
      s.enricher.enrich(EventOrigin{PIDTREE_SLOT_TCP_CONNECT, 11, nullptr, 5});
  ASSERT_TRUE(e);
  auto j = nlohmann::json::parse("{\"x\":1" + e->fields + "}");
  EXPECT_EQ(j["container_name"], "pay");
  EXPECT_EQ(j["container_id"], kId);
  EXPECT_EQ(j["container_runtime"], "docker");
  EXPECT_EQ(j["container_image"], "img");
  EXPECT_EQ(j["container_labels"]["team"], "payments");
  EXPECT_EQ(e->login, LoginFields::kNone);
  e = s.enricher.enrich(EventOrigin{PIDTREE_SLOT_TCP_CONNECT, 13, nullptr, 5});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->fields, "");
  EXPECT_FALSE(s.enricher.filters(PIDTREE_SLOT_TCP_CONNECT));
  // Without a cgroup (a snapshot): the process's, from /proc; a host
  // process's event is kept.
  s.tree.pids[5] = "docker/" + kId;
  e = s.enricher.enrich(EventOrigin{PIDTREE_SLOT_NET_LISTEN, 0, nullptr, 5});
  ASSERT_TRUE(e);
  EXPECT_NE(e->fields.find("\"container_name\":\"pay\""), std::string::npos);
  e = s.enricher.enrich(EventOrigin{PIDTREE_SLOT_NET_LISTEN, 0, nullptr, 6});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->fields, "");
}

TEST(Enricher, ContainerLabelsDropOtherContainersAndTheHostInBothPlaces) {
  EnricherSetup s;
  FileConfig file =
      load("tcp_connect:\n  container_labels: [team=pay*]\nnet_listen:\n");
  std::vector<std::string> notes;
  s.enricher.configure(file, s.probes, &notes);
  s.enricher.use_maps(&s.maps);
  EXPECT_TRUE(s.enricher.filters(PIDTREE_SLOT_TCP_CONNECT));
  EXPECT_FALSE(s.enricher.filters(PIDTREE_SLOT_NET_LISTEN));
  // The kernel's map: every cgroup decided, with a bit per probe.
  const uint32_t all_but_tc = PIDTREE_CGROUP_DECIDED |
                              (1u << PIDTREE_SLOT_NET_LISTEN) |
                              (1u << PIDTREE_SLOT_UDP_SESSION);
  EXPECT_EQ(s.maps.reports.at(11),
            all_but_tc | (1u << PIDTREE_SLOT_TCP_CONNECT));
  EXPECT_EQ(s.maps.reports.at(12), all_but_tc);
  EXPECT_EQ(s.maps.reports.at(13), all_but_tc);
  EXPECT_EQ(s.maps.reports.at(1), all_but_tc);
  auto tc = [&](uint64_t cg) {
    return s.enricher.enrich(EventOrigin{PIDTREE_SLOT_TCP_CONNECT, cg, nullptr,
                                         5}) != nullptr;
  };
  EXPECT_TRUE(tc(11));
  EXPECT_FALSE(tc(12));
  EXPECT_FALSE(tc(13));
  EXPECT_FALSE(tc(1));
  EXPECT_TRUE(
      s.enricher.enrich(EventOrigin{PIDTREE_SLOT_NET_LISTEN, 12, nullptr, 5}));
  EXPECT_EQ(s.enricher.dropped(), 3u);
  // A container started since: decided at its first event, in the map.
  s.tree.tree.push_back({"docker/" + std::string(64, 'c'), 14});
  s.state.known[std::string(64, 'c')] =
      container(std::string(64, 'c'), "pay2", {{"team", "payroll"}});
  EXPECT_TRUE(tc(14));
  EXPECT_EQ(s.maps.reports.at(14),
            all_but_tc | (1u << PIDTREE_SLOT_TCP_CONNECT));
  // Gone: out of the map.
  s.tree.tree.pop_back();
  s.enricher.maintain(Enricher::Clock::now() + std::chrono::hours(1), &notes);
  EXPECT_EQ(s.maps.reports.count(14), 0u);
  // A reload without labels: nothing filtered.
  s.enricher.configure(load("tcp_connect:\n"), s.probes, &notes);
  EXPECT_FALSE(s.enricher.filters(PIDTREE_SLOT_TCP_CONNECT));
  EXPECT_TRUE(tc(12));
}

TEST(Enricher, PluginsAddTheirFieldsAndLoginMode) {
  EnricherSetup s;
  TempFile hosts("198.51.100.7 web01\n");
  FileConfig file = load(
      "tcp_connect:\n  plugins:\n    sourceipmap:\n"
      "      hostfiles: ['" +
      hosts.path() +
      "']\n    loginuidmap: {top_level: true}\n"
      "net_listen:\n  plugins:\n    loginuidmap: {}\n");
  std::vector<std::string> notes;
  s.enricher.configure(file, s.probes, &notes);
  IpAddress src = parse_ip("198.51.100.7");
  const Enrichment *e =
      s.enricher.enrich(EventOrigin{PIDTREE_SLOT_TCP_CONNECT, 11, &src, 5});
  ASSERT_TRUE(e);
  EXPECT_NE(e->fields.find("\"container_name\":\"pay\""), std::string::npos);
  EXPECT_NE(e->fields.find(",\"source_host\":\"web01\""), std::string::npos);
  EXPECT_EQ(e->login, LoginFields::kFirst);
  e = s.enricher.enrich(EventOrigin{PIDTREE_SLOT_NET_LISTEN, 13, nullptr, 5});
  EXPECT_EQ(e->login, LoginFields::kAll);
  EXPECT_EQ(e->fields, "");
}

TEST(Enricher, APluginThatCannotStartIsAnErrorOrANote) {
  EnricherSetup s;
  std::vector<std::string> notes;
  FileConfig file = load(
      "tcp_connect:\n  plugins:\n    sourceipmap:\n"
      "      hostfiles: [/nonexistent/h]\n");
  try {
    s.enricher.configure(file, s.probes, &notes);
    FAIL();
  } catch (const std::runtime_error &e) {
    std::string what = e.what();
    EXPECT_NE(what.find(":4:7: tcp_connect.plugins.sourceipmap: cannot read "
                        "host file '/nonexistent/h'"),
              std::string::npos)
        << what;
  }
  file = load(
      "tcp_connect:\n  plugins:\n    sourceipmap:\n"
      "      hostfiles: [/nonexistent/h]\n"
      "      unload_on_init_exception: true\n");
  s.enricher.configure(file, s.probes, &notes);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("plugin unloaded"), std::string::npos);
}

TEST(Enricher, WithoutACgroupTreeLabelsReportNothing) {
  Enricher e(nullptr);
  std::vector<std::string> notes;
  e.configure(load("tcp_connect:\n  container_labels: [a=b]\nnet_listen:\n"),
              {{"tcp_connect", 0}, {"net_listen", 1}}, &notes);
  EXPECT_EQ(notes.size(), 1u);
  EXPECT_FALSE(e.enrich(EventOrigin{0, 11, nullptr, 1}));
  ASSERT_TRUE(e.enrich(EventOrigin{1, 11, nullptr, 1}));
  EXPECT_EQ(e.enrich(EventOrigin{1, 11, nullptr, 1})->fields, "");
}

// ---- cgroups from the kernel

std::vector<uint8_t> cgroup_bytes(uint64_t id, bool made,
                                  const std::string &path) {
  pidtree_cgroup_event raw;
  std::memset(&raw, 0, sizeof(raw));
  raw.ts_boot_ns = 9;
  raw.kind = PIDTREE_EVENT_CGROUP;
  raw.id = id;
  raw.made = made;
  raw.path_len = static_cast<uint32_t>(path.size());
  std::memcpy(raw.path, path.data(), path.size());
  std::vector<uint8_t> out(offsetof(pidtree_cgroup_event, path) + path.size() +
                           1);
  std::memcpy(out.data(), &raw, out.size());
  return out;
}

TEST(CgroupEvents, Decoded) {
  auto b = cgroup_bytes(77, true, "/docker/" + kId);
  auto ev = decode_cgroup_event(b.data(), b.size());
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->id, 77u);
  EXPECT_TRUE(ev->made);
  EXPECT_EQ(ev->path, "docker/" + kId);
  EXPECT_EQ(ev->ts_boot_ns, 9u);
  auto events = decode_event(b.data(), b.size());
  ASSERT_TRUE(events);
  EXPECT_TRUE(std::holds_alternative<CgroupEvent>(*events));
  // Short, or a path longer than what came: refused.
  EXPECT_FALSE(decode_cgroup_event(b.data(), 20));
  EXPECT_FALSE(decode_cgroup_event(b.data(), b.size() - 10));
  auto bad = b;
  reinterpret_cast<pidtree_cgroup_event *>(bad.data())->path_len = 5000;
  EXPECT_FALSE(decode_cgroup_event(bad.data(), bad.size()));
  // A NUL inside ends the path.
  auto nul = cgroup_bytes(78, false, std::string("/a\0b", 4));
  ev = decode_cgroup_event(nul.data(), nul.size());
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->path, "a");
  EXPECT_FALSE(ev->made);
}

TEST(Enricher, ACgroupMadeIsLearntAndDecidedBeforeItsEvents) {
  EnricherSetup s;
  std::vector<std::string> notes;
  s.enricher.configure(load("tcp_connect:\n  container_labels: [team=pay*]\n"),
                       s.probes, &notes);
  s.enricher.use_maps(&s.maps);
  // A container that is gone from the tree by the time its event is
  // handled: known from its cgroup's creation.
  const std::string id(64, 'd');
  s.state.known[id] = container(id, "brief", {{"team", "payments"}});
  s.enricher.cgroup(CgroupEvent{1, 40, true, "docker/" + id});
  EXPECT_EQ(s.maps.reports.at(40) & (1u << PIDTREE_SLOT_TCP_CONNECT),
            1u << PIDTREE_SLOT_TCP_CONNECT);
  const int walks = s.tree.walks;
  const Enrichment *e =
      s.enricher.enrich(EventOrigin{PIDTREE_SLOT_TCP_CONNECT, 40, nullptr, 5});
  ASSERT_TRUE(e);
  EXPECT_NE(e->fields.find("\"container_name\":\"brief\""), std::string::npos);
  EXPECT_EQ(s.tree.walks, walks);  // no walk needed
  // A host service's cgroup: decided against, and gone from the map with
  // its rmdir.
  s.enricher.cgroup(CgroupEvent{2, 41, true, "system.slice/cron.service"});
  EXPECT_EQ(s.maps.reports.at(41) & (1u << PIDTREE_SLOT_TCP_CONNECT), 0u);
  EXPECT_FALSE(
      s.enricher.enrich(EventOrigin{PIDTREE_SLOT_TCP_CONNECT, 41, nullptr, 5}));
  s.enricher.cgroup(CgroupEvent{3, 41, false, "system.slice/cron.service"});
  s.enricher.cgroup(CgroupEvent{3, 40, false, "docker/" + id});
  EXPECT_EQ(s.maps.reports.count(41), 0u);
  EXPECT_EQ(s.maps.reports.count(40), 0u);
}

// ---- login fields on the tree

TEST(LoginFields, OnNodesBelowPidOneThatHaveOne) {
  Ancestry a;
  a.tree.push_back(ProcNode{30, "sh -c x", "root", 1000, "alice"});
  a.tree.push_back(ProcNode{20, "sshd: alice", "root", 0xffffffffu, ""});
  a.tree.push_back(ProcNode{1, "init", "root", 1000, "alice"});
  std::string user = "root", ts = "t";
  for (auto mode :
       {LoginFields::kNone, LoginFields::kAll, LoginFields::kFirst}) {
    Enrichment en;
    en.login = mode;
    std::string out;
    append_event_tail(&out, EventLine{a, user, ts, &en});
    auto j = nlohmann::json::parse("{\"x\":1" + out);
    auto &tree = j["proctree"];
    EXPECT_EQ(tree[0].contains("loginuid"), mode != LoginFields::kNone);
    if (mode != LoginFields::kNone) {
      EXPECT_EQ(tree[0]["loginuid"], 1000);
      EXPECT_EQ(tree[0]["loginname"], "alice");
    }
    EXPECT_FALSE(tree[1].contains("loginuid"));  // none
    EXPECT_FALSE(tree[2].contains("loginuid"));  // pid 1: never
  }
}

}  // namespace
}  // namespace pidtree
