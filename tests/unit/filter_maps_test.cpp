// FilterMaps: rule sets written side by side and switched with one write.
#include "kernel/filter_maps.h"

#include "kernel/program.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace pidtree {
namespace {

// Maps as byte strings, with a log of every write, and a failure switch.
class FakeMaps : public MapAccess {
 public:
  bool update(const char *map, const void *key, const void *value) override {
    if (fail_map == map)
      return false;
    std::string k = bytes(map, key, true), v = bytes(map, value, false);
    maps[map][k] = v;
    log.push_back(std::string("update ") + map);
    return true;
  }
  bool erase(const char *map, const void *key) override {
    maps[map].erase(bytes(map, key, true));
    log.push_back(std::string("erase ") + map);
    return true;
  }
  uint32_t active() {
    std::string k(4, '\0');
    auto it = maps["filter_active"].find(k);
    uint32_t v = 0;
    if (it != maps["filter_active"].end())
      std::memcpy(&v, it->second.data(), 4);
    return v;
  }
  size_t count(const char *map, uint8_t set) {
    size_t n = 0;
    for (const auto &kv : maps[map])
      n += static_cast<uint8_t>(kv.first[4]) == set;
    return n;
  }

  std::map<std::string, std::map<std::string, std::string>> maps;
  std::vector<std::string> log;
  std::string fail_map;

 private:
  static std::string bytes(const std::string &map, const void *p, bool key) {
    size_t n = 0;
    if (map == "filter_v4")
      n = key ? sizeof(pidtree_lpm_v4_key) : sizeof(pidtree_net_rule);
    else if (map == "filter_v6")
      n = key ? sizeof(pidtree_lpm_v6_key) : sizeof(pidtree_net_rule);
    else if (map == "filter_rule_ports")
      n = key ? sizeof(uint32_t) : sizeof(pidtree_port_bitmap);
    else if (map == "port_filter_bits")
      n = key ? 4 : 8;
    else
      n = 4;  // filter_active
    return std::string(static_cast<const char *>(p), n);
  }
};

FilterConfig config(std::vector<const char *> nets,
                    PortMode mode = PortMode::kNone,
                    const char *ports = nullptr) {
  FilterConfig c;
  for (const char *n : nets)
    c.rules.push_back(NetRule{parse_cidr(n), RulePorts::kAll, {}});
  c.port_mode = mode;
  if (ports)
    c.ports = parse_port_spec(ports);
  return c;
}

TEST(FilterMaps, FirstApplyFillsSetZeroThenFlipsEachTime) {
  FakeMaps maps;
  FilterMaps fm(maps);
  EXPECT_EQ(fm.live_set(), -1);
  ASSERT_EQ(fm.apply(config({"10.0.0.0/8", "192.168.0.0/16"})), "");
  EXPECT_EQ(fm.live_set(), 0);
  EXPECT_EQ(maps.active(), 0u);
  EXPECT_EQ(maps.count("filter_v4", 0), 2u);
  // The flip is the last write: everything of the new set is in before.
  EXPECT_EQ(maps.log.back(), "update filter_active");

  ASSERT_EQ(fm.apply(config({"203.0.113.0/24"})), "");
  EXPECT_EQ(fm.live_set(), 1);
  EXPECT_EQ(maps.active(), 1u);
  EXPECT_EQ(maps.count("filter_v4", 1), 1u);
  // The old set is left alone until the next reload reuses it.
  EXPECT_EQ(maps.count("filter_v4", 0), 2u);

  ASSERT_EQ(fm.apply(config({"198.51.100.0/24", "2001:db8::/32"})), "");
  EXPECT_EQ(maps.active(), 0u);
  EXPECT_EQ(maps.count("filter_v4", 0), 1u);  // the stale two are gone
  EXPECT_EQ(maps.count("filter_v4", 1), 1u);
  EXPECT_EQ(maps.maps["filter_v6"].size(), 1u);
}

// Bit `port` of the port bitmap of (slot, set), as the kernel reads it.
bool port_bit(FakeMaps &maps, int slot, int set, int port) {
  int key = (slot * 2 + set) * PIDTREE_PORT_WORDS + port / 64;
  std::string k(reinterpret_cast<const char *>(&key), 4);
  auto it = maps.maps["port_filter_bits"].find(k);
  if (it == maps.maps["port_filter_bits"].end())
    return false;
  uint64_t word = 0;
  std::memcpy(&word, it->second.data(), 8);
  return (word >> (port % 64)) & 1;
}

TEST(FilterMaps, OnlyChangedPortWordsAreWritten) {
  FakeMaps maps;
  FilterMaps fm(maps);
  ASSERT_EQ(fm.apply(config({}, PortMode::kExclude, "22,80")), "");
  size_t writes = 0;
  for (const auto &l : maps.log)
    writes += l == "update port_filter_bits";
  EXPECT_EQ(writes, 2u);  // ports 0-63 and 64-127
  maps.log.clear();
  ASSERT_EQ(fm.apply(config({}, PortMode::kExclude, "22,80")), "");  // set 1
  maps.log.clear();
  ASSERT_EQ(fm.apply(config({}, PortMode::kExclude, "22,443")), "");  // set 0
  writes = 0;
  for (const auto &l : maps.log)
    writes += l == "update port_filter_bits";
  EXPECT_EQ(writes, 2u);  // 80's word cleared, 443's set
  EXPECT_TRUE(port_bit(maps, 0, 0, 22));
  EXPECT_TRUE(port_bit(maps, 0, 0, 443));
  EXPECT_FALSE(port_bit(maps, 0, 0, 80));
  EXPECT_FALSE(port_bit(maps, 0, 0, 444));
  EXPECT_TRUE(port_bit(maps, 0, 1, 80));  // set 1 keeps its rules
  // An include list sets every word but the listed ports.
  ASSERT_EQ(fm.apply(config({}, PortMode::kInclude, "65535")), "");  // set 1
  EXPECT_TRUE(port_bit(maps, 0, 1, 0));
  EXPECT_TRUE(port_bit(maps, 0, 1, 65534));
  EXPECT_FALSE(port_bit(maps, 0, 1, 65535));
}

TEST(FilterMaps, EachProbeHasItsOwnSlot) {
  FakeMaps maps;
  FilterMaps connect(maps, PIDTREE_SLOT_TCP_CONNECT);
  FilterMaps listen(maps, PIDTREE_SLOT_NET_LISTEN);
  ASSERT_EQ(connect.apply(config({"10.0.0.0/8"}, PortMode::kExclude, "22")),
            "");
  ASSERT_EQ(listen.apply(config({"10.0.0.0/8"}, PortMode::kExclude, "53")), "");
  ASSERT_EQ(listen.apply(config({}, PortMode::kExclude, "5353")), "");
  EXPECT_TRUE(port_bit(maps, PIDTREE_SLOT_TCP_CONNECT, 0, 22));
  EXPECT_FALSE(port_bit(maps, PIDTREE_SLOT_TCP_CONNECT, 0, 53));
  EXPECT_TRUE(port_bit(maps, PIDTREE_SLOT_NET_LISTEN, 0, 53));
  EXPECT_TRUE(port_bit(maps, PIDTREE_SLOT_NET_LISTEN, 1, 5353));
  // Each probe flips its own entry of filter_active.
  int slot = PIDTREE_SLOT_NET_LISTEN;
  std::string k(reinterpret_cast<const char *>(&slot), 4);
  uint32_t v = 9;
  std::memcpy(&v, maps.maps["filter_active"][k].data(), 4);
  EXPECT_EQ(v, 1u);
  EXPECT_EQ(maps.active(), 0u);  // tcp_connect's (slot 0) stays
  // The LPM keys carry the slot.
  size_t with_listen_slot = 0;
  for (const auto &kv : maps.maps["filter_v4"]) {
    pidtree_lpm_v4_key key;
    std::memcpy(&key, kv.first.data(), sizeof(key));
    with_listen_slot += key.probe == PIDTREE_SLOT_NET_LISTEN;
  }
  EXPECT_EQ(with_listen_slot, 1u);  // set 0's; set 1 has none
}

TEST(FilterMaps, AFailedWriteKeepsTheLiveRules) {
  FakeMaps maps;
  FilterMaps fm(maps);
  ASSERT_EQ(fm.apply(config({"10.0.0.0/8"})), "");
  maps.fail_map = "filter_v4";
  std::string err = fm.apply(config({"11.0.0.0/8"}));
  EXPECT_NE(err.find("filter_v4"), std::string::npos) << err;
  EXPECT_EQ(fm.live_set(), 0);
  EXPECT_EQ(maps.active(), 0u);
  EXPECT_EQ(maps.count("filter_v4", 0), 1u);
  // And the next good reload still works.
  maps.fail_map.clear();
  ASSERT_EQ(fm.apply(config({"12.0.0.0/8"})), "");
  EXPECT_EQ(maps.active(), 1u);
  EXPECT_EQ(maps.count("filter_v4", 1), 1u);
}

TEST(FilterMaps, TooManyRulesAreRefusedBeforeAnyWrite) {
  FakeMaps maps;
  FilterMaps fm(maps);
  FilterConfig big;
  for (unsigned i = 0; i <= kMaxRulesPerSet; ++i)
    big.rules.push_back(
        NetRule{Cidr{parse_ip("10.0.0.0"), 8}, RulePorts::kAll, {}});
  std::string err = fm.apply(big);
  EXPECT_NE(err.find("too many network rules"), std::string::npos) << err;
  EXPECT_TRUE(maps.log.empty());
}

}  // namespace
}  // namespace pidtree
