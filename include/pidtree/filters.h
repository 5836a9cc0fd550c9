// What the tracer drops in the kernel: destination networks and ports.
// The same rules exist twice: as data for the BPF maps (to_map_entries) and
// as a plain matcher (is_filtered), which tests use as the reference.
#pragma once

#include <bitset>
#include <cstdint>
#include <vector>

#include "event.h"
#include "pidtree/net.h"

namespace pidtree {

enum class PortMode { kNone, kInclude, kExclude };

struct FilterConfig {
  // Destinations in these networks are dropped.
  std::vector<Cidr> excluded_networks;
  // kInclude: only these destination ports are reported;
  // kExclude: these destination ports are dropped.
  PortMode port_mode = PortMode::kNone;
  std::vector<PortRange> ports;
};

// 127.0.0.0/8, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 169.254.0.0/16,
// ::1/128, fc00::/7, fe80::/10.
std::vector<Cidr> default_excluded_networks();

// The reference semantics: would a connect to addr:port be dropped?
// IPv4-mapped IPv6 destinations are judged by their IPv4 part.
bool is_filtered(const FilterConfig &config, const IpAddress &addr,
                 uint16_t port);

// The contents of the BPF filter maps for a configuration.
struct FilterMapEntries {
  std::vector<std::pair<pidtree_lpm_v4_key, pidtree_net_rule>> v4;
  std::vector<std::pair<pidtree_lpm_v6_key, pidtree_net_rule>> v6;
  std::bitset<65536> dropped_ports;
  bool any_port_dropped() const { return dropped_ports.any(); }
};

FilterMapEntries to_map_entries(const FilterConfig &config);

}  // namespace pidtree
