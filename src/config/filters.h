// What the tracer drops in the kernel: networks and ports (the destination
// of a connect, the local address of a listener).
// The same rules exist twice: as data for the BPF maps (to_map_entries) and
// as a plain matcher (is_filtered), which tests use as the reference.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <vector>

#include "common/net.h"
#include "event.h"

namespace pidtree {

// Global destination-port filter.
enum class PortMode { kNone, kInclude, kExclude };

// How a network rule treats the destination port.
enum class RulePorts {
  kAll,     // drop every port
  kExcept,  // drop every port but `ports` (Yelp's except_ports)
  kOnly,    // drop only `ports` (Yelp's include_ports)
};

struct NetRule {
  Cidr network;
  RulePorts mode = RulePorts::kAll;
  std::vector<PortRange> ports;
};

struct FilterConfig {
  // Network rules; for a destination the rule with the longest matching
  // prefix decides (networks are unique).
  std::vector<NetRule> rules;
  // kInclude: only these destination ports are reported;
  // kExclude: these destination ports are dropped. Applies before rules.
  PortMode port_mode = PortMode::kNone;
  std::vector<PortRange> ports;
};

// 127.0.0.0/8, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 169.254.0.0/16,
// ::1/128, fc00::/7, fe80::/10.
std::vector<Cidr> default_excluded_networks();
// The same, as rules that drop every port.
std::vector<NetRule> default_rules();

bool port_listed(const std::vector<PortRange> &ranges, uint16_t port);

// The reference semantics: would a connect to addr:port be dropped?
// IPv4-mapped IPv6 destinations are judged by their IPv4 part.
bool is_filtered(const FilterConfig &config, const IpAddress &addr,
                 uint16_t port);

// The contents of the BPF filter maps for a configuration, written as rule
// set `set` (0 or 1) of probe `slot` (PIDTREE_SLOT_*; see bpf/event.h).
struct FilterMapEntries {
  uint8_t set = 0;
  uint8_t slot = 0;
  std::vector<std::pair<pidtree_lpm_v4_key, pidtree_net_rule>> v4;
  std::vector<std::pair<pidtree_lpm_v6_key, pidtree_net_rule>> v6;
  // (rule id, the ports it lists), for each rule that lists any.
  std::vector<std::pair<uint32_t, pidtree_port_bitmap>> rule_ports;
  std::bitset<65536> dropped_ports;
};

FilterMapEntries to_map_entries(const FilterConfig &config, uint8_t set = 0,
                                uint8_t slot = 0);

}  // namespace pidtree
