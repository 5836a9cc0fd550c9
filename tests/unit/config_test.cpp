// The YAML configuration: Yelp pidtree-bcc's format, includes, validation
// with file:line:column, and how it combines with the command line.
#include "config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "config_text.h"

namespace pidtree {
namespace {

using pidtree::testing::TempDir;

FileConfig load_text(const std::string &text) {
  TempDir dir;
  return load_config(dir.write("c.yaml", text));
}

// The error for `text`, with the temp path replaced by "F".
std::string error_of(const std::string &text) {
  TempDir dir;
  std::string path = dir.write("c.yaml", text);
  try {
    load_config(path);
  } catch (const ConfigError &e) {
    std::string msg = e.what();
    size_t at = msg.find(path);
    if (at != std::string::npos)
      msg.replace(at, path.size(), "F");
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    return msg;
  }
  ADD_FAILURE() << "no ConfigError for:\n" << text;
  return "";
}

std::vector<std::string> networks(const ProbeConfig &p) {
  std::vector<std::string> out;
  for (const auto &r : p.rules)
    out.push_back(format_cidr(r.network));
  return out;
}

std::string reference(const std::string &name) {
  return std::string(PIDTREE_REFERENCE) + "/" + name;
}

TEST(Config, UpstreamExampleLoadsUnchanged) {
  // ../shared/reference/upstream-example_config.yml, verbatim.
  FileConfig c = load_config(reference("upstream-example_config.yml"));
  ASSERT_TRUE(c.section("tcp_connect").present);
  ASSERT_TRUE(c.section("tcp_connect").has_filters);
  EXPECT_EQ(networks(c.section("tcp_connect")),
            (std::vector<std::string>{"10.0.0.0/8", "172.16.0.0/12",
                                      "169.254.0.0/16", "127.0.0.0/8"}));
  for (const auto &r : c.section("tcp_connect").rules)
    EXPECT_EQ(r.mode, RulePorts::kAll);
  EXPECT_EQ(c.section("tcp_connect").port_mode, PortMode::kNone);
  // net_listen and udp_session run with upstream's settings;
  // container_labels and plugins are noted.
  const ProbeConfig &listen = c.section("net_listen");
  ASSERT_TRUE(listen.present);
  EXPECT_EQ(networks(listen), std::vector<std::string>{"127.0.0.0/8"});
  EXPECT_EQ(listen.port_mode, PortMode::kExclude);
  std::string notes;
  for (const auto &n : c.notes)
    notes += n + "\n";
  EXPECT_EQ(notes.find("net_listen"), std::string::npos) << notes;
  const ProbeConfig &udp = c.section("udp_session");
  ASSERT_TRUE(udp.present);
  EXPECT_EQ(networks(udp),
            (std::vector<std::string>{"10.0.0.0/8", "172.16.0.0/12",
                                      "169.254.0.0/16", "127.0.0.0/8"}));
  EXPECT_EQ(notes.find("udp_session"), std::string::npos) << notes;
  // Its plugins and container_labels run: no note says otherwise.
  EXPECT_EQ(notes, "");
  EXPECT_EQ(c.section("tcp_connect").plugins.size(), 1u);
  ASSERT_EQ(c.files.size(), 1u);
}

TEST(Config, UpstreamItestConfigWithPortsFilledIn) {
  std::ifstream in(reference("upstream-itest-config_generic.yml"));
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  for (auto [from, to] :
       {std::pair<std::string, std::string>{"<port1>", "4000"},
        {"<port2>", "5000"}})
    for (size_t at; (at = text.find(from)) != std::string::npos;)
      text.replace(at, from.size(), to);
  FileConfig c = load_text(text);
  ASSERT_EQ(c.section("tcp_connect").rules.size(), 11u);
  const NetRule &except = c.section("tcp_connect").rules[9];
  EXPECT_EQ(format_cidr(except.network), "127.100.0.0/16");
  EXPECT_EQ(except.mode, RulePorts::kExcept);
  ASSERT_EQ(except.ports.size(), 1u);
  EXPECT_EQ(except.ports[0].first, 4000);
  const NetRule &only = c.section("tcp_connect").rules[10];
  EXPECT_EQ(only.mode, RulePorts::kOnly);
  EXPECT_EQ(c.section("tcp_connect").port_mode, PortMode::kExclude);
  ASSERT_EQ(c.section("tcp_connect").ports.size(), 1u);
  EXPECT_EQ(c.section("tcp_connect").ports[0].first, 5000);
  // Its semantics: 127.0/16 dropped; 127.100/16 dropped but for port 4000;
  // 127.101/16 dropped only on 4000; the rest of 127/8 not filtered.
  FilterConfig f = combine_filters(&c.section("tcp_connect"), {});
  EXPECT_TRUE(is_filtered(f, parse_ip("127.0.0.1"), 4000));
  EXPECT_FALSE(is_filtered(f, parse_ip("127.100.0.1"), 4000));
  EXPECT_TRUE(is_filtered(f, parse_ip("127.100.0.1"), 4001));
  EXPECT_TRUE(is_filtered(f, parse_ip("127.101.0.1"), 4000));
  EXPECT_FALSE(is_filtered(f, parse_ip("127.101.0.1"), 4001));
  EXPECT_FALSE(is_filtered(f, parse_ip("127.102.0.1"), 4001));
  EXPECT_TRUE(is_filtered(f, parse_ip("127.102.0.1"), 5000));  // excludeports
  EXPECT_TRUE(is_filtered(f, parse_ip("8.8.8.8"), 53));        // 0/2 ... 128/1
}

TEST(Config, EveryFilterKeyAndShorthands) {
  FileConfig c = load_text(R"(
tcp_connect:
  filters:
    - subnet_name: dotted
      network: 192.168.0.0
      network_mask: 255.255.0.0
      description: "a description"
    - subnet_name: 17
      network: 10.0.0.0/8
      except_ports: [443, "8000-8002", 9000-9001]
    - subnet_name: prefixlen
      network: "2001:db8::"
      network_mask: 32
    - subnet_name: v6mask
      network: "fd00::"
      network_mask: "ff00::"
      include_ports: [53]
  includeports: [80, 443, 1000-1002]
)");
  const auto &p = c.section("tcp_connect");
  EXPECT_EQ(networks(p),
            (std::vector<std::string>{"192.168.0.0/16", "10.0.0.0/8",
                                      "2001:db8::/32", "fd00::/8"}));
  EXPECT_EQ(p.rules[1].mode, RulePorts::kExcept);
  ASSERT_EQ(p.rules[1].ports.size(), 3u);
  EXPECT_EQ(p.rules[1].ports[1].first, 8000);
  EXPECT_EQ(p.rules[1].ports[1].last, 8002);
  EXPECT_EQ(p.rules[3].mode, RulePorts::kOnly);
  EXPECT_EQ(p.port_mode, PortMode::kInclude);
  EXPECT_EQ(p.ports.size(), 3u);
  EXPECT_TRUE(c.notes.empty());
}

TEST(Config, AnchorsAndPrivateKeys) {
  FileConfig c = load_text(R"(
_nets: &nets
  - subnet_name: a
    network: 203.0.113.0/24
_unused: {anything: [goes, here]}
tcp_connect:
  filters: *nets
net_listen:
  filters: *nets
  excludeports: [22222, 30000-40000]
  snapshot_periodicity: 43200
  protocols: [tcp]
  same_namespace_only: False
  exclude_random_bind: yes
)");
  EXPECT_EQ(networks(c.section("tcp_connect")),
            (std::vector<std::string>{"203.0.113.0/24"}));
}

TEST(Config, IncludesNestAndAreRelativeToTheIncludingFile) {
  TempDir dir;
  dir.write("sub/nets.yaml",
            "- subnet_name: a\n  network: 198.51.100.0/24\n"
            "- !include more/one.yaml\n");
  dir.write("sub/more/one.yaml", "subnet_name: b\nnetwork: 2001:db8::/32\n");
  dir.write("sub/ports.yaml", "[22, 80]\n");
  std::string main =
      dir.write("main.yaml",
                "tcp_connect:\n  filters: !include sub/nets.yaml\n"
                "  excludeports: !include sub/ports.yaml\n");
  FileConfig c = load_config(main);
  EXPECT_EQ(networks(c.section("tcp_connect")),
            (std::vector<std::string>{"198.51.100.0/24", "2001:db8::/32"}));
  EXPECT_EQ(c.section("tcp_connect").ports.size(), 2u);
  ASSERT_EQ(c.files.size(), 4u);
  EXPECT_EQ(c.files[0], main);
}

TEST(Config, IncludeErrorsPointIntoTheIncludedFile) {
  TempDir dir;
  std::string inc = dir.write("nets.yaml",
                              "- subnet_name: a\n  network: 10.0.0.0\n"
                              "  network_mask: 255.0.255.0\n");
  std::string main =
      dir.write("main.yaml", "tcp_connect:\n  filters: !include nets.yaml\n");
  try {
    load_config(main);
    FAIL() << "no error";
  } catch (const ConfigError &e) {
    EXPECT_EQ(std::string(e.what()).rfind(inc + ":3:17: ", 0), 0u) << e.what();
    EXPECT_NE(std::string(e.what()).find("not a contiguous mask"),
              std::string::npos);
  }
}

TEST(Config, IncludeLoopsMissingFilesAndRemoteUrlsAreRefused) {
  TempDir dir;
  std::string a = dir.write("a.yaml", "tcp_connect: !include b.yaml\n");
  dir.write("b.yaml", "!include a.yaml\n");
  EXPECT_THROW(
      {
        try {
          load_config(a);
        } catch (const ConfigError &e) {
          EXPECT_NE(std::string(e.what()).find("a loop"), std::string::npos)
              << e.what();
          throw;
        }
      },
      ConfigError);
  EXPECT_NE(error_of("tcp_connect: !include nope.yaml\n")
                .find("F:1:14: !include: cannot read"),
            std::string::npos);
  std::string remote = error_of(
      "tcp_connect:\n  filters: !include https://example.invalid/n.yaml\n");
  EXPECT_NE(remote.find("F:2:12: !include: 'https://example.invalid/n.yaml': "
                        "remote includes are not read here"),
            std::string::npos)
      << remote;
}

// A file or include that is not a regular file is refused at once: a FIFO
// or a device would block the loader (and a reload with it) or never end.
TEST(Config, FifosDevicesDirectoriesAndHugeFilesAreRefused) {
  TempDir dir;
  std::string fifo = dir.path() + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto why = [](const std::string &path) {
    try {
      load_config(path);
    } catch (const ConfigError &e) {
      return std::string(e.what());
    }
    return std::string("<no error>");
  };
  EXPECT_NE(why(fifo).find("not a regular file"), std::string::npos);
  EXPECT_NE(why(dir.path()).find("it is a directory"), std::string::npos);
  std::string inc = dir.write("inc.yaml", "tcp_connect: !include /dev/zero\n");
  EXPECT_NE(why(inc).find("inc.yaml:1:14: !include: cannot read '/dev/zero': "
                          "not a regular file"),
            std::string::npos)
      << why(inc);
  std::string big = dir.write("big.yaml", std::string(5 << 20, '#'));
  EXPECT_NE(why(big).find("larger than 4 MiB"), std::string::npos);
}

struct BadCase {
  const char *text;
  const char *want;  // expected "F:line:col: ..." prefix of the message
};

// Found by fuzz_config (corpus/config/regression-plugin-key-newline): a
// key with a newline in it (a quoted YAML key) was put into the error's
// path as it was, and the one-line error became two.
TEST(Config, KeysInErrorPathsAreShownEscaped) {
  for (const char *text :
       {"tcp_connect:\n  plugins:\n    \"x\\ny\": 1\n",
        "tcp_connect:\n  plugins:\n    sourceipmap:\n      \"a\\nb\": 1\n",
        "\"tcp\\nconnect\": {}\n"}) {
    std::string msg = error_of(text);
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_NE(msg.find("\\x0a"), std::string::npos) << msg;
  }
}

TEST(Config, EveryValidationErrorNamesLineAndColumn) {
  const BadCase cases[] = {
      {"tcp_connect: [1, 2\n", "F:2:1: invalid YAML: "},
      {"- just a list\n", "F:1:1: expected a map of probe names"},
      {"tcp_connet:\n  filters: []\n", "F:1:1: unknown probe 'tcp_connet'"},
      {"tcp_connect:\n  filter: []\n",
       "F:2:3: tcp_connect: unknown key 'filter'"},
      {"tcp_connect: 5\n",
       "F:1:14: tcp_connect: expected the probe's settings"},
      {"tcp_connect:\n  filters: {a: 1}\n",
       "F:2:12: tcp_connect.filters: expected a list of filters"},
      {"tcp_connect:\n  filters:\n    - 10.0.0.0/8\n",
       "F:3:7: tcp_connect.filters[0]: expected a filter"},
      {"tcp_connect:\n  filters:\n    - network: 10.0.0.0/8\n",
       "F:3:7: tcp_connect.filters[0]: subnet_name is missing"},
      {"tcp_connect:\n  filters:\n    - subnet_name: a\n",
       "F:3:7: tcp_connect.filters[0]: network is missing"},
      {"tcp_connect:\n  filters:\n    - subnet_name: a\n      network: "
       "10.0.0.0\n",
       "F:4:16: tcp_connect.filters[0]: network_mask is missing"},
      {"tcp_connect:\n  filters:\n    - {subnet_name: a, network: "
       "10.0.0.300/8}\n",
       "F:3:33: tcp_connect.filters[0].network: invalid IP address"},
      {"tcp_connect:\n  filters:\n    - {subnet_name: a, network: 10.0.0.0, "
       "network_mask: 255.0.255.0}\n",
       "F:3:57: tcp_connect.filters[0].network_mask: '255.0.255.0' is not a "
       "contiguous mask"},
      {"tcp_connect:\n  filters:\n    - {subnet_name: a, network: 10.0.0.0, "
       "network_mask: 33}\n",
       "F:3:57: tcp_connect.filters[0].network_mask: expected a whole number "
       "from 0 to 32"},
      {"tcp_connect:\n  filters:\n    - {subnet_name: a, network: 10.0.0.0, "
       "network_mask: \"ffff::\"}\n",
       "F:3:57: tcp_connect.filters[0].network_mask: the mask and the network "
       "are not of one family"},
      {"tcp_connect:\n  filters:\n    - {subnet_name: a, network: 10.0.0.0/8, "
       "network_mask: 8}\n",
       "F:3:59: tcp_connect.filters[0].network_mask: the network already has "
       "a prefix length"},
      {"tcp_connect:\n  filters:\n    - {subnet_name: a, network: "
       "10.0.0.0/33}\n",
       "F:3:33: tcp_connect.filters[0].network: prefix length must be 0-32"},
      {"tcp_connect:\n  filters:\n    - {subnet_name: a, network: "
       "\"::ffff:10.0.0.0/104\"}\n",
       "F:3:33: tcp_connect.filters[0].network: invalid network "
       "'::ffff:10.0.0.0/104': IPv4-mapped"},
      {"tcp_connect:\n  filters:\n    - {subnet_name: a, network: 10.0.0.0/8}\n"
       "    - {subnet_name: b, network: 10.0.0.0/8}\n",
       "F:4:7: tcp_connect.filters[1]: network 10.0.0.0/8 is already filtered "
       "by tcp_connect.filters[0]"},
      {"tcp_connect:\n  filters:\n    - {subnet_name: a, network: 10.0.0.0/8}\n"
       "    - {subnet_name: a, network: 11.0.0.0/8}\n",
       "F:4:21: tcp_connect.filters[1].subnet_name: 'a' is used by another "
       "filter"},
      {"tcp_connect:\n  filters:\n    - {subnet_name: a, network: 10.0.0.0/8, "
       "colour: red}\n",
       "F:3:45: tcp_connect.filters[0]: unknown key 'colour'"},
      {"tcp_connect:\n  filters:\n    - {subnet_name: a, network: 10.0.0.0/8, "
       "except_ports: [1], include_ports: [2]}\n",
       "F:3:79: tcp_connect.filters[0].include_ports: a filter takes "
       "except_ports or include_ports, not both"},
      {"tcp_connect:\n  filters:\n    - {subnet_name: a, network: 10.0.0.0/8, "
       "except_ports: 443}\n",
       "F:3:59: tcp_connect.filters[0].except_ports: expected a list of ports"},
      {"tcp_connect:\n  excludeports: [22, 65536]\n",
       "F:2:22: tcp_connect.excludeports[1]: invalid port '65536'"},
      {"tcp_connect:\n  excludeports: [9000-8000]\n",
       "F:2:18: tcp_connect.excludeports[0]: invalid port range '9000-8000'"},
      {"tcp_connect:\n  excludeports: [[1]]\n",
       "F:2:18: tcp_connect.excludeports[0]: expected a port or a range"},
      {"tcp_connect:\n  includeports: [1]\n  excludeports: [2]\n",
       "F:3:17: tcp_connect.excludeports: includeports and excludeports "
       "cannot be combined"},
      {"tcp_connect:\n  plugins:\n    magic: {enabled: true}\n",
       "F:3:5: tcp_connect.plugins: unknown plugin 'magic'"},
      {"tcp_connect:\n  plugins:\n    sourceipmap: {enabled: maybe}\n",
       "F:3:28: tcp_connect.plugins.sourceipmap.enabled: expected true or "
       "false"},
      {"tcp_connect:\n  plugins:\n    sourceipmap: {hostfiles: /etc/hosts}\n",
       "F:3:30: tcp_connect.plugins.sourceipmap.hostfiles: expected a list"},
      {"tcp_connect:\n  plugins:\n    loginuidmap: {colour: 1}\n",
       "F:3:19: tcp_connect.plugins.loginuidmap: unknown setting 'colour'"},
      {"tcp_connect:\n  container_labels: key=value\n",
       "F:2:21: tcp_connect.container_labels: expected a list of label "
       "patterns (KEY=GLOB,KEY=GLOB...)"},
      {"net_listen:\n  snapshot_periodicity: x5\n",
       "F:2:25: net_listen.snapshot_periodicity: expected a number of "
       "seconds"},
      {"net_listen:\n  protocols: [tcp, sctp]\n",
       "F:2:20: net_listen.protocols[1]: expected tcp or udp"},
      {"udp_session:\n  snapshot_periodicity: 5\n",
       "F:2:3: udp_session: unknown key 'snapshot_periodicity'"},
      {"tcp_connect:\n  filters:\n    - {subnet_name: [x], network: "
       "1.0.0.0/8}\n",
       "F:3:21: tcp_connect.filters[0].subnet_name: expected a name"},
  };
  for (const auto &c : cases) {
    std::string got = error_of(c.text);
    EXPECT_EQ(got.rfind(c.want, 0), 0u)
        << "config:\n"
        << c.text << "got:  " << got << "\nwant: " << c.want;
  }
}

TEST(Config, HostBitsAreMaskedWithANote) {
  FileConfig c = load_text(
      "tcp_connect:\n  filters:\n    - {subnet_name: a, network: 10.1.2.3, "
      "network_mask: 255.0.0.0}\n");
  EXPECT_EQ(networks(c.section("tcp_connect")),
            (std::vector<std::string>{"10.0.0.0/8"}));
  ASSERT_EQ(c.notes.size(), 1u);
  EXPECT_NE(c.notes[0].find("using 10.0.0.0/8"), std::string::npos)
      << c.notes[0];
}

TEST(Config, EmptyFileAndEmptyProbe) {
  EXPECT_FALSE(load_text("").section("tcp_connect").present);
  FileConfig c = load_text("tcp_connect:\n");
  EXPECT_TRUE(c.section("tcp_connect").present);
  EXPECT_FALSE(c.section("tcp_connect").has_filters);
  c = load_text("tcp_connect:\n  filters: []\n");
  EXPECT_TRUE(c.section("tcp_connect").has_filters);
  EXPECT_TRUE(c.section("tcp_connect").rules.empty());
}

TEST(Config, NeverCrashesOnHostileYaml) {
  // Deep nesting, alias loops, huge scalars, binary junk: an error or a
  // result, never a crash or a hang.
  std::vector<std::string> inputs = {
      std::string(100000, '[') + std::string(100000, ']'),
      "tcp_connect: &a\n  filters: *a\n",
      "a: &a [*a, *a]\ntcp_connect:\n  filters: *a\n",
      "tcp_connect:\n  filters:\n    - subnet_name: " +
          std::string(1 << 20, 'x') + "\n      network: 1.0.0.0/8\n",
      std::string("\0\xff\xfe{{{::\n", 10),
      "? [complex, key]\n: value\n",
      "tcp_connect: !include\n",
      "tcp_connect: !!binary aGVsbG8=\n",
  };
  std::mt19937 rng(5);
  for (int i = 0; i < 300; ++i) {
    std::string junk;
    const char alphabet[] = "{}[]:,-&*!|>'\"#\n  \tab01/.%@`";
    for (int j = 0; j < 200; ++j)
      junk += alphabet[rng() % (sizeof(alphabet) - 1)];
    inputs.push_back("tcp_connect:\n  filters:\n" + junk);
  }
  for (const auto &text : inputs) {
    try {
      load_text(text);
    } catch (const ConfigError &) {
    }
  }
}

TEST(CombineFilters, FileFiltersReplaceTheDefaults) {
  FileConfig c = load_text(
      "tcp_connect:\n  filters:\n    - {subnet_name: a, network: "
      "198.51.100.0/24}\n");
  FilterConfig f = combine_filters(&c.section("tcp_connect"), {});
  ASSERT_EQ(f.rules.size(), 1u);
  EXPECT_FALSE(is_filtered(f, parse_ip("10.0.0.1"), 1));
  // A file without filters keeps the defaults (unless disabled).
  FileConfig none = load_text("tcp_connect:\n  excludeports: [22]\n");
  EXPECT_EQ(combine_filters(&none.section("tcp_connect"), {}).rules.size(), 8u);
  CommandLineFilters no_defaults;
  no_defaults.no_default_filters = true;
  EXPECT_TRUE(
      combine_filters(&none.section("tcp_connect"), no_defaults).rules.empty());
}

TEST(CombineFilters, CommandLineAddsNetworksAndPorts) {
  FileConfig c = load_text(
      "tcp_connect:\n  filters:\n    - {subnet_name: a, network: 10.0.0.0/8, "
      "except_ports: [443]}\n  excludeports: [22]\n");
  CommandLineFilters cli;
  cli.networks = {parse_cidr("203.0.113.0/24"), parse_cidr("10.0.0.0/8")};
  cli.port_mode = PortMode::kExclude;
  cli.ports = parse_port_spec("25");
  FilterConfig f = combine_filters(&c.section("tcp_connect"), cli);
  ASSERT_EQ(f.rules.size(), 2u);
  // The command line's 10/8 drops every port, the file's exception is gone.
  EXPECT_TRUE(is_filtered(f, parse_ip("10.1.1.1"), 443));
  EXPECT_TRUE(is_filtered(f, parse_ip("203.0.113.5"), 80));
  EXPECT_TRUE(is_filtered(f, parse_ip("8.8.8.8"), 22));
  EXPECT_TRUE(is_filtered(f, parse_ip("8.8.8.8"), 25));
  EXPECT_FALSE(is_filtered(f, parse_ip("8.8.8.8"), 80));
  // Opposite port modes clash.
  cli.port_mode = PortMode::kInclude;
  EXPECT_THROW(combine_filters(&c.section("tcp_connect"), cli), InputError);
}

}  // namespace
}  // namespace pidtree
