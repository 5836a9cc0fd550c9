// Filter rules: the reference matcher (is_filtered), the BPF map contents
// (to_map_entries), and a property test that the two agree.
#include "config/filters.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace pidtree {
namespace {

FilterConfig networks(std::vector<std::string> cidrs) {
  FilterConfig c;
  for (const auto &t : cidrs)
    c.rules.push_back(NetRule{parse_cidr(t), RulePorts::kAll, {}});
  return c;
}

TEST(DefaultExcludedNetworks, ExactlyTheDocumentedEight) {
  std::vector<Cidr> got = default_excluded_networks();
  std::vector<std::string> text;
  for (const auto &c : got)
    text.push_back(format_cidr(c));
  EXPECT_EQ(text,
            (std::vector<std::string>{
                "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                "169.254.0.0/16", "::1/128", "fc00::/7", "fe80::/10"}));
  ASSERT_EQ(got.size(), 8u);
  for (size_t i = 0; i < 5; ++i)
    EXPECT_EQ(got[i].network.family, Family::kIpv4) << i;
  for (size_t i = 5; i < 8; ++i)
    EXPECT_EQ(got[i].network.family, Family::kIpv6) << i;
}

TEST(IsFiltered, DefaultNetworks) {
  FilterConfig c;
  c.rules = default_rules();
  for (const char *in :
       {"127.0.0.1", "127.255.255.255", "10.1.2.3", "172.16.0.1",
        "172.31.255.254", "192.168.1.1", "169.254.169.254", "::1", "fc00::1",
        "fdff:ffff::1", "fe80::1", "febf::1"})
    EXPECT_TRUE(is_filtered(c, parse_ip(in), 443)) << in;
  for (const char *out :
       {"8.8.8.8", "172.32.0.1", "172.15.0.1", "192.169.0.1", "11.0.0.1",
        "128.0.0.1", "::2", "fe00::1", "fec0::1", "2001:db8::1", "::"})
    EXPECT_FALSE(is_filtered(c, parse_ip(out), 443)) << out;
}

TEST(IsFiltered, MappedIpv6JudgedByIpv4Part) {
  FilterConfig c = networks({"10.0.0.0/8"});
  EXPECT_TRUE(is_filtered(c, parse_ip("::ffff:10.1.2.3"), 80));
  EXPECT_FALSE(is_filtered(c, parse_ip("::ffff:8.8.8.8"), 80));
  // Only the ::ffff:0:0/96 prefix maps; other embeddings stay IPv6.
  EXPECT_FALSE(is_filtered(c, parse_ip("::10.1.2.3"), 80));
  EXPECT_FALSE(is_filtered(c, parse_ip("64:ff9b::10.1.2.3"), 80));
  EXPECT_FALSE(is_filtered(c, parse_ip("::fffe:10.1.2.3"), 80));

  // Default set: mapped loopback is loopback.
  FilterConfig d;
  d.rules = default_rules();
  EXPECT_TRUE(is_filtered(d, parse_ip("::ffff:127.0.0.1"), 80));
  EXPECT_TRUE(is_filtered(d, parse_ip("::ffff:192.168.0.10"), 80));
  EXPECT_FALSE(is_filtered(d, parse_ip("::ffff:1.1.1.1"), 80));
}

TEST(IsFiltered, NoRulesDropsNothing) {
  FilterConfig c;
  EXPECT_FALSE(is_filtered(c, parse_ip("10.0.0.1"), 22));
  EXPECT_FALSE(is_filtered(c, parse_ip("::1"), 0));
  // Ports without a mode are ignored.
  c.ports = parse_port_spec("22");
  EXPECT_FALSE(is_filtered(c, parse_ip("8.8.8.8"), 22));
}

TEST(IsFiltered, IncludePorts) {
  FilterConfig c;
  c.port_mode = PortMode::kInclude;
  c.ports = parse_port_spec("80,443,8000-8002");
  IpAddress a = parse_ip("8.8.8.8");
  EXPECT_FALSE(is_filtered(c, a, 80));
  EXPECT_FALSE(is_filtered(c, a, 443));
  EXPECT_FALSE(is_filtered(c, a, 8000));
  EXPECT_FALSE(is_filtered(c, a, 8002));
  EXPECT_TRUE(is_filtered(c, a, 8003));
  EXPECT_TRUE(is_filtered(c, a, 7999));
  EXPECT_TRUE(is_filtered(c, a, 22));
  EXPECT_TRUE(is_filtered(c, a, 0));
  EXPECT_TRUE(is_filtered(c, a, 65535));
  // An included port to an excluded network is still dropped.
  c.rules.push_back(NetRule{parse_cidr("8.8.0.0/16"), RulePorts::kAll, {}});
  EXPECT_TRUE(is_filtered(c, a, 80));
  EXPECT_FALSE(is_filtered(c, parse_ip("9.9.9.9"), 80));
}

TEST(IsFiltered, ExcludePorts) {
  FilterConfig c;
  c.port_mode = PortMode::kExclude;
  c.ports = parse_port_spec("22,6000-6010");
  IpAddress a = parse_ip("2001:db8::5");
  EXPECT_TRUE(is_filtered(c, a, 22));
  EXPECT_TRUE(is_filtered(c, a, 6000));
  EXPECT_TRUE(is_filtered(c, a, 6010));
  EXPECT_FALSE(is_filtered(c, a, 6011));
  EXPECT_FALSE(is_filtered(c, a, 21));
  EXPECT_FALSE(is_filtered(c, a, 443));
}

TEST(IsFiltered, NetworksIgnoreFamilyOfOtherRules) {
  FilterConfig c = networks({"0.0.0.0/0"});
  EXPECT_TRUE(is_filtered(c, parse_ip("1.2.3.4"), 1));
  EXPECT_TRUE(is_filtered(c, parse_ip("::ffff:1.2.3.4"), 1));
  EXPECT_FALSE(is_filtered(c, parse_ip("2001:db8::1"), 1));
  FilterConfig c6 = networks({"::/0"});
  EXPECT_TRUE(is_filtered(c6, parse_ip("2001:db8::1"), 1));
  EXPECT_FALSE(is_filtered(c6, parse_ip("1.2.3.4"), 1));
  // Mapped addresses are judged as IPv4 only, so ::/0 does not catch them.
  EXPECT_FALSE(is_filtered(c6, parse_ip("::ffff:1.2.3.4"), 1));
}

// ---- to_map_entries ---------------------------------------------------------

TEST(ToMapEntries, SplitsFamiliesWithPrefixesAndBytes) {
  FilterConfig c =
      networks({"10.0.0.0/8", "2001:db8::/32", "192.168.4.0/22", "::1/128"});
  FilterMapEntries e = to_map_entries(c);
  ASSERT_EQ(e.v4.size(), 2u);
  ASSERT_EQ(e.v6.size(), 2u);

  EXPECT_EQ(e.v4[0].first.prefixlen, 16u + 8u);
  const uint8_t ten[4] = {10, 0, 0, 0};
  EXPECT_EQ(std::memcmp(e.v4[0].first.addr, ten, 4), 0);
  EXPECT_EQ(e.v4[1].first.prefixlen, 16u + 22u);
  const uint8_t v192[4] = {192, 168, 4, 0};
  EXPECT_EQ(std::memcmp(e.v4[1].first.addr, v192, 4), 0);

  EXPECT_EQ(e.v6[0].first.prefixlen, 16u + 32u);
  const uint8_t db8[16] = {0x20, 0x01, 0x0d, 0xb8};
  EXPECT_EQ(std::memcmp(e.v6[0].first.addr, db8, 16), 0);
  EXPECT_EQ(e.v6[1].first.prefixlen, 16u + 128u);
  uint8_t one[16] = {};
  one[15] = 1;
  EXPECT_EQ(std::memcmp(e.v6[1].first.addr, one, 16), 0);

  // Every rule filters every port and has its own id.
  std::set<uint32_t> ids;
  for (const auto &kv : e.v4) {
    EXPECT_EQ(kv.second.port_mode, static_cast<uint32_t>(PIDTREE_PORTS_ALL));
    ids.insert(kv.second.rule_id);
  }
  for (const auto &kv : e.v6) {
    EXPECT_EQ(kv.second.port_mode, static_cast<uint32_t>(PIDTREE_PORTS_ALL));
    ids.insert(kv.second.rule_id);
  }
  EXPECT_EQ(ids.size(), 4u);

  EXPECT_FALSE(e.dropped_ports.any());
}

TEST(ToMapEntries, KeyPaddingIsZero) {
  // The keys go to the kernel byte for byte; nothing but the prefix, the
  // set, the probe's slot and the address may be set.
  FilterMapEntries e = to_map_entries(networks({"1.2.3.4/32"}), 1, 2);
  ASSERT_EQ(e.v4.size(), 1u);
  pidtree_lpm_v4_key want{};
  want.prefixlen = 16 + 32;  // the set and slot bytes, then the address
  want.set = 1;
  want.probe = 2;
  want.addr[0] = 1;
  want.addr[1] = 2;
  want.addr[2] = 3;
  want.addr[3] = 4;
  EXPECT_EQ(std::memcmp(&e.v4[0].first, &want, sizeof(want)), 0);
}

TEST(ToMapEntries, RuleIdsDifferAcrossSetsAndSlots) {
  FilterConfig c = networks({"10.0.0.0/8"});
  c.rules[0].mode = RulePorts::kOnly;
  c.rules[0].ports = parse_port_spec("53");
  std::set<uint32_t> ids;
  for (uint8_t slot = 0; slot < PIDTREE_FILTER_SLOTS; ++slot)
    for (uint8_t set = 0; set < 2; ++set) {
      FilterMapEntries e = to_map_entries(c, set, slot);
      ASSERT_EQ(e.v4.size(), 1u);
      EXPECT_EQ(e.v4[0].first.probe, slot);
      EXPECT_EQ(e.v4[0].first.set, set);
      ASSERT_EQ(e.rule_ports.size(), 1u);
      EXPECT_EQ(e.rule_ports[0].first, e.v4[0].second.rule_id);
      ids.insert(e.v4[0].second.rule_id);
    }
  EXPECT_EQ(ids.size(), 2u * PIDTREE_FILTER_SLOTS);
}

TEST(ToMapEntries, EmptyConfig) {
  FilterMapEntries e = to_map_entries(FilterConfig{});
  EXPECT_TRUE(e.v4.empty());
  EXPECT_TRUE(e.v6.empty());
  EXPECT_FALSE(e.dropped_ports.any());
  EXPECT_EQ(e.dropped_ports.count(), 0u);
}

TEST(ToMapEntries, ExcludePortsBitset) {
  FilterConfig c;
  c.port_mode = PortMode::kExclude;
  c.ports = parse_port_spec("22,8000-8009,65535,0");
  FilterMapEntries e = to_map_entries(c);
  EXPECT_TRUE(e.dropped_ports.any());
  EXPECT_EQ(e.dropped_ports.count(), 13u);
  EXPECT_TRUE(e.dropped_ports[0]);
  EXPECT_TRUE(e.dropped_ports[22]);
  EXPECT_TRUE(e.dropped_ports[8000]);
  EXPECT_TRUE(e.dropped_ports[8009]);
  EXPECT_TRUE(e.dropped_ports[65535]);
  EXPECT_FALSE(e.dropped_ports[21]);
  EXPECT_FALSE(e.dropped_ports[8010]);
  EXPECT_FALSE(e.dropped_ports[65534]);
}

TEST(ToMapEntries, IncludePortsBitsetDropsAllButListed) {
  FilterConfig c;
  c.port_mode = PortMode::kInclude;
  c.ports = parse_port_spec("80,443,1000-1999");
  FilterMapEntries e = to_map_entries(c);
  EXPECT_EQ(e.dropped_ports.count(), 65536u - 1002u);
  EXPECT_FALSE(e.dropped_ports[80]);
  EXPECT_FALSE(e.dropped_ports[443]);
  EXPECT_FALSE(e.dropped_ports[1000]);
  EXPECT_FALSE(e.dropped_ports[1999]);
  EXPECT_TRUE(e.dropped_ports[0]);
  EXPECT_TRUE(e.dropped_ports[79]);
  EXPECT_TRUE(e.dropped_ports[999]);
  EXPECT_TRUE(e.dropped_ports[2000]);
  EXPECT_TRUE(e.dropped_ports[65535]);
}

TEST(ToMapEntries, IncludeWholeRangeDropsNothing) {
  FilterConfig c;
  c.port_mode = PortMode::kInclude;
  c.ports = parse_port_spec("0-65535");
  FilterMapEntries e = to_map_entries(c);
  EXPECT_FALSE(e.dropped_ports.any());
}

TEST(ToMapEntries, OverlappingRanges) {
  FilterConfig c;
  c.port_mode = PortMode::kInclude;
  c.ports = parse_port_spec("100-200,150-250,150");
  FilterMapEntries e = to_map_entries(c);
  EXPECT_EQ(e.dropped_ports.count(), 65536u - 151u);
  c.port_mode = PortMode::kExclude;
  e = to_map_entries(c);
  EXPECT_EQ(e.dropped_ports.count(), 151u);
}

// ---- property: the map entries, looked up the way the kernel does, agree
// with is_filtered
// -------------------------------------------------------------

// `bits` of key and addr agree (bit 0 is the top bit of byte 0).
bool prefix_matches(const uint8_t *key, const uint8_t *addr, unsigned bits) {
  for (unsigned i = 0; i < bits; ++i) {
    unsigned byte = i / 8, shift = 7 - i % 8;
    if (((key[byte] >> shift) & 1) != ((addr[byte] >> shift) & 1))
      return false;
  }
  return true;
}

// Longest-prefix match over (key, rule) entries the way the kernel's LPM
// trie does it: the key data is the set byte then the address, and
// prefixlen counts both. nullptr when none matches.
template <typename Entries>
const pidtree_net_rule *lpm_lookup(const Entries &entries, uint8_t set,
                                   const uint8_t *addr, unsigned addr_bits) {
  const pidtree_net_rule *best = nullptr;
  int best_len = -1;
  for (const auto &kv : entries) {
    unsigned len = kv.first.prefixlen;
    if (len < 16 || len > 16 + addr_bits || kv.first.set != set)
      continue;
    if (prefix_matches(kv.first.addr, addr, len - 16) &&
        static_cast<int>(len) > best_len) {
      best = &kv.second;
      best_len = static_cast<int>(len);
    }
  }
  return best;
}

// A model of bpf/filters.bpf.h's pidtree_filtered over the map contents.
bool kernel_model(const FilterMapEntries &maps, const IpAddress &addr,
                  uint16_t port) {
  if (maps.dropped_ports[port])
    return true;
  const uint8_t *a = addr.bytes.data();
  const pidtree_net_rule *rule = nullptr;
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (addr.family == Family::kIpv4)
    rule = lpm_lookup(maps.v4, maps.set, a, 32);
  else if (std::memcmp(a, kMapped, 12) == 0)
    rule = lpm_lookup(maps.v4, maps.set, a + 12, 32);
  else
    rule = lpm_lookup(maps.v6, maps.set, a, 128);
  if (!rule)
    return false;
  if (rule->port_mode == PIDTREE_PORTS_ALL)
    return true;
  bool listed = false;
  for (const auto &e : maps.rule_ports)
    listed = listed || (e.first == rule->rule_id &&
                        (e.second.bits[port >> 3] >> (port & 7)) & 1);
  return rule->port_mode == PIDTREE_PORTS_EXCEPT ? !listed : listed;
}

class RuleGen {
 public:
  explicit RuleGen(uint32_t seed) : rng_(seed) {}

  unsigned uniform(unsigned lo, unsigned hi) {
    return std::uniform_int_distribution<unsigned>(lo, hi)(rng_);
  }

  IpAddress random_address(Family family) {
    IpAddress a;
    a.family = family;
    for (size_t i = 0; i < a.size(); ++i)
      a.bytes[i] = static_cast<uint8_t>(uniform(0, 255));
    return a;
  }

  Cidr random_network() {
    Cidr c;
    Family f = uniform(0, 1) ? Family::kIpv4 : Family::kIpv6;
    IpAddress a = random_address(f);
    unsigned prefix = uniform(0, 20) == 0 ? 0 : uniform(1, a.max_prefix());
    if (f == Family::kIpv6 && uniform(0, 3) == 0) {
      // Sometimes a network inside ::ffff:0:0/96, which never matches.
      std::memset(a.bytes.data(), 0, 10);
      a.bytes[10] = a.bytes[11] = 0xff;
      prefix = uniform(96, 128);
    }
    c.network = mask_address(a, prefix);
    c.prefix = prefix;
    return c;
  }

  std::vector<PortRange> random_ports(unsigned min_ranges) {
    std::vector<PortRange> out;
    unsigned ranges = uniform(min_ranges, 4);
    for (unsigned i = 0; i < ranges; ++i) {
      unsigned first = uniform(0, 65535);
      unsigned last =
          uniform(0, 3) ? first : std::min(65535u, first + uniform(0, 40));
      out.push_back(
          PortRange{static_cast<uint16_t>(first), static_cast<uint16_t>(last)});
    }
    return out;
  }

  FilterConfig random_config() {
    FilterConfig c;
    unsigned n = uniform(0, 12);
    for (unsigned i = 0; i < n; ++i) {
      NetRule rule{random_network(), RulePorts::kAll, {}};
      // Nested networks: often a more specific one inside an earlier rule.
      if (!c.rules.empty() && uniform(0, 2) == 0) {
        const Cidr &outer = c.rules[uniform(0, c.rules.size() - 1)].network;
        if (outer.prefix < outer.network.max_prefix()) {
          IpAddress a = random_address(outer.network.family);
          unsigned prefix =
              uniform(outer.prefix + 1, outer.network.max_prefix());
          for (unsigned bit = 0; bit < outer.prefix; ++bit) {
            uint8_t m = static_cast<uint8_t>(0x80 >> (bit % 8));
            a.bytes[bit / 8] = static_cast<uint8_t>(
                (a.bytes[bit / 8] & ~m) | (outer.network.bytes[bit / 8] & m));
          }
          rule.network = Cidr{mask_address(a, prefix), prefix};
        }
      }
      switch (uniform(0, 2)) {
        case 1:
          rule.mode = RulePorts::kExcept;
          rule.ports = random_ports(1);
          break;
        case 2:
          rule.mode = RulePorts::kOnly;
          rule.ports = random_ports(1);
          break;
        default:
          break;
      }
      bool dup = false;
      for (const auto &r : c.rules)
        dup = dup || r.network == rule.network;
      if (!dup)
        c.rules.push_back(rule);
    }
    switch (uniform(0, 2)) {
      case 0:
        c.port_mode = PortMode::kNone;
        break;
      case 1:
        c.port_mode = PortMode::kInclude;
        break;
      default:
        c.port_mode = PortMode::kExclude;
        break;
    }
    unsigned ranges =
        c.port_mode == PortMode::kNone ? uniform(0, 2) : uniform(1, 5);
    for (unsigned i = 0; i < ranges; ++i) {
      unsigned first = uniform(0, 65535);
      unsigned last =
          uniform(0, 3) ? first : std::min(65535u, first + uniform(0, 2000));
      c.ports.push_back(
          PortRange{static_cast<uint16_t>(first), static_cast<uint16_t>(last)});
    }
    return c;
  }

  // Biased so that most addresses land inside (or right next to) a rule.
  IpAddress random_probe(const FilterConfig &c) {
    unsigned pick = uniform(0, 9);
    if (c.rules.empty() || pick >= 8) {
      IpAddress a =
          random_address(uniform(0, 1) ? Family::kIpv4 : Family::kIpv6);
      return a;
    }
    const Cidr &net = c.rules[uniform(0, c.rules.size() - 1)].network;
    IpAddress a = random_address(net.network.family);
    // Keep the network's bits, randomise the rest.
    for (unsigned bit = 0; bit < net.prefix; ++bit) {
      unsigned byte = bit / 8;
      uint8_t mask = static_cast<uint8_t>(0x80 >> (bit % 8));
      a.bytes[byte] = static_cast<uint8_t>((a.bytes[byte] & ~mask) |
                                           (net.network.bytes[byte] & mask));
    }
    if (pick >= 5 && net.prefix > 0) {
      // Flip the last network bit: just outside this rule.
      unsigned bit = net.prefix - 1;
      a.bytes[bit / 8] ^= static_cast<uint8_t>(0x80 >> (bit % 8));
    }
    if (net.network.family == Family::kIpv4 && uniform(0, 2) == 0) {
      // The same address as an IPv4-mapped IPv6 one.
      IpAddress m;
      m.family = Family::kIpv6;
      m.bytes[10] = m.bytes[11] = 0xff;
      std::memcpy(m.bytes.data() + 12, a.bytes.data(), 4);
      return m;
    }
    return a;
  }

  uint16_t random_port(const FilterConfig &c) {
    std::vector<PortRange> all = c.ports;
    for (const auto &rule : c.rules)
      all.insert(all.end(), rule.ports.begin(), rule.ports.end());
    if (all.empty() || uniform(0, 3) == 0)
      return static_cast<uint16_t>(uniform(0, 65535));
    const PortRange &r = all[uniform(0, all.size() - 1)];
    switch (uniform(0, 3)) {
      case 0:
        return r.first;
      case 1:
        return r.last;
      case 2:
        return static_cast<uint16_t>(r.last + 1u);  // may wrap to 0
      default:
        return static_cast<uint16_t>(r.first - 1u);
    }
  }

 private:
  std::mt19937 rng_;
};

TEST(FilterProperty, MapEntriesAgreeWithIsFiltered) {
  RuleGen gen(20240229);
  const int kConfigs = 200, kPerConfig = 100;  // 20k samples
  int filtered = 0, by_network = 0, samples = 0;
  for (int ci = 0; ci < kConfigs; ++ci) {
    FilterConfig config = gen.random_config();
    // Either rule set must give the same answers.
    FilterMapEntries maps = to_map_entries(config, ci & 1);
    for (int i = 0; i < kPerConfig; ++i, ++samples) {
      IpAddress addr = gen.random_probe(config);
      uint16_t port = gen.random_port(config);
      bool want = is_filtered(config, addr, port);
      bool got = kernel_model(maps, addr, port);
      filtered += want;
      FilterConfig nets_only = config;
      nets_only.port_mode = PortMode::kNone;
      by_network += is_filtered(nets_only, addr, port);
      ASSERT_EQ(got, want) << "config " << ci << " address " << format_ip(addr)
                           << " port " << port;
    }
  }
  EXPECT_EQ(samples, 20000);
  // The bias must produce both outcomes in bulk, and many network matches.
  EXPECT_GT(filtered, samples / 5);
  EXPECT_LT(filtered, samples * 4 / 5);
  EXPECT_GT(by_network, samples / 5);
}

TEST(FilterProperty, DefaultsAgreeAcrossTheirEdges) {
  FilterConfig config;
  config.rules = default_rules();
  FilterMapEntries maps = to_map_entries(config);
  for (const char *text : {"126.255.255.255",
                           "127.0.0.0",
                           "128.0.0.0",
                           "9.255.255.255",
                           "172.15.255.255",
                           "172.16.0.0",
                           "172.31.255.255",
                           "172.32.0.0",
                           "169.253.255.255",
                           "169.254.0.0",
                           "169.255.0.0",
                           "::",
                           "::1",
                           "::2",
                           "fbff::",
                           "fc00::",
                           "fdff::",
                           "fe00::",
                           "fe7f::",
                           "fe80::",
                           "febf::",
                           "fec0::",
                           "::ffff:127.1.2.3",
                           "::ffff:11.0.0.0"}) {
    IpAddress a = parse_ip(text);
    EXPECT_EQ(kernel_model(maps, a, 1), is_filtered(config, a, 1)) << text;
  }
}

}  // namespace
}  // namespace pidtree

namespace pidtree {
namespace {

FilterConfig rule_config() {
  FilterConfig c;
  c.rules.push_back(NetRule{parse_cidr("10.0.0.0/8"), RulePorts::kAll, {}});
  c.rules.push_back(NetRule{parse_cidr("10.1.0.0/16"), RulePorts::kExcept,
                            parse_port_spec("443,8000-8001")});
  c.rules.push_back(NetRule{parse_cidr("10.1.2.0/24"), RulePorts::kOnly,
                            parse_port_spec("22")});
  return c;
}

TEST(IsFiltered, MostSpecificRuleDecidesWithItsPorts) {
  FilterConfig c = rule_config();
  // 10/8: every port.
  EXPECT_TRUE(is_filtered(c, parse_ip("10.9.9.9"), 443));
  // 10.1/16: all but 443 and 8000-8001.
  EXPECT_TRUE(is_filtered(c, parse_ip("10.1.9.9"), 80));
  EXPECT_FALSE(is_filtered(c, parse_ip("10.1.9.9"), 443));
  EXPECT_FALSE(is_filtered(c, parse_ip("10.1.9.9"), 8001));
  // 10.1.2/24: only 22 — even though 10/8 would drop everything.
  EXPECT_TRUE(is_filtered(c, parse_ip("10.1.2.3"), 22));
  EXPECT_FALSE(is_filtered(c, parse_ip("10.1.2.3"), 80));
  EXPECT_FALSE(is_filtered(c, parse_ip("::ffff:10.1.2.3"), 80));
  EXPECT_FALSE(is_filtered(c, parse_ip("11.0.0.1"), 22));
}

TEST(ToMapEntries, RulePortsAndSets) {
  FilterConfig c = rule_config();
  for (uint8_t set : {0, 1}) {
    FilterMapEntries e = to_map_entries(c, set);
    EXPECT_EQ(e.set, set);
    ASSERT_EQ(e.v4.size(), 3u);
    for (const auto &kv : e.v4) {
      EXPECT_EQ(kv.first.set, set);
      EXPECT_EQ(kv.second.rule_id >> 24, set);  // ids differ between sets
    }
    EXPECT_EQ(e.v4[1].second.port_mode,
              static_cast<uint32_t>(PIDTREE_PORTS_EXCEPT));
    EXPECT_EQ(e.v4[2].second.port_mode,
              static_cast<uint32_t>(PIDTREE_PORTS_ONLY));
    // One bitmap per rule that lists ports: {443, 8000-8001} and {22}.
    ASSERT_EQ(e.rule_ports.size(), 2u);
    EXPECT_EQ(e.rule_ports[0].first, e.v4[1].second.rule_id);
    EXPECT_EQ(e.rule_ports[1].first, e.v4[2].second.rule_id);
    auto listed = [](const pidtree_port_bitmap &b) {
      std::vector<uint32_t> ports;
      for (uint32_t p = 0; p < 65536; ++p)
        if ((b.bits[p >> 3] >> (p & 7)) & 1)
          ports.push_back(p);
      return ports;
    };
    EXPECT_EQ(listed(e.rule_ports[0].second),
              (std::vector<uint32_t>{443, 8000, 8001}));
    EXPECT_EQ(listed(e.rule_ports[1].second), (std::vector<uint32_t>{22}));
  }
}

}  // namespace
}  // namespace pidtree

namespace pidtree {
namespace {

TEST(ToMapEntries, PortBitmapEdges) {
  FilterConfig c;
  c.rules.push_back(NetRule{parse_cidr("2001:db8::/32"), RulePorts::kOnly,
                            parse_port_spec("1-9,65535")});
  // A rule without ports needs no bitmap: nothing is listed.
  c.rules.push_back(
      NetRule{parse_cidr("192.0.2.0/24"), RulePorts::kExcept, {}});
  FilterMapEntries e = to_map_entries(c);
  ASSERT_EQ(e.rule_ports.size(), 1u);
  EXPECT_EQ(e.rule_ports[0].first, e.v6[0].second.rule_id);
  const auto &bits = e.rule_ports[0].second.bits;
  EXPECT_EQ(bits[0], 0xfe);     // 1-7
  EXPECT_EQ(bits[1], 0x03);     // 8-9
  EXPECT_EQ(bits[8191], 0x80);  // 65535
  size_t set_bytes = 0;
  for (uint8_t b : bits)
    set_bytes += b != 0;
  EXPECT_EQ(set_bytes, 3u);
  EXPECT_TRUE(is_filtered(c, parse_ip("2001:db8::1"), 65535));
  EXPECT_FALSE(is_filtered(c, parse_ip("2001:db8::1"), 10));
  EXPECT_TRUE(is_filtered(c, parse_ip("192.0.2.1"), 10));
}

}  // namespace
}  // namespace pidtree
