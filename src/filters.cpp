#include "pidtree/filters.h"

#include <cstring>

namespace pidtree {

std::vector<Cidr> default_excluded_networks() {
  std::vector<Cidr> out;
  for (const char *text :
       {"127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
        "169.254.0.0/16", "::1/128", "fc00::/7", "fe80::/10"})
    out.push_back(parse_cidr(text));
  return out;
}

namespace {

bool port_listed(const std::vector<PortRange> &ranges, uint16_t port) {
  for (const auto &r : ranges)
    if (port >= r.first && port <= r.last)
      return true;
  return false;
}

IpAddress unmap_v4(const IpAddress &addr) {
  static const uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0,    0,
                                            0, 0, 0, 0, 0xff, 0xff};
  if (addr.family != Family::kIpv6 ||
      std::memcmp(addr.bytes.data(), kMappedPrefix, 12) != 0)
    return addr;
  IpAddress v4;
  v4.family = Family::kIpv4;
  std::memcpy(v4.bytes.data(), addr.bytes.data() + 12, 4);
  return v4;
}

}  // namespace

bool is_filtered(const FilterConfig &config, const IpAddress &addr,
                 uint16_t port) {
  if (config.port_mode == PortMode::kInclude &&
      !port_listed(config.ports, port))
    return true;
  if (config.port_mode == PortMode::kExclude && port_listed(config.ports, port))
    return true;
  IpAddress judged = unmap_v4(addr);
  for (const auto &net : config.excluded_networks)
    if (net.contains(judged))
      return true;
  return false;
}

FilterMapEntries to_map_entries(const FilterConfig &config) {
  FilterMapEntries out;
  uint32_t rule_id = 0;
  for (const auto &net : config.excluded_networks) {
    pidtree_net_rule rule{};
    rule.rule_id = rule_id++;
    rule.port_mode = PIDTREE_PORTS_ALL;
    if (net.network.family == Family::kIpv4) {
      pidtree_lpm_v4_key key{};
      key.prefixlen = net.prefix;
      std::memcpy(key.addr, net.network.bytes.data(), 4);
      out.v4.emplace_back(key, rule);
    } else {
      pidtree_lpm_v6_key key{};
      key.prefixlen = net.prefix;
      std::memcpy(key.addr, net.network.bytes.data(), 16);
      out.v6.emplace_back(key, rule);
    }
  }
  if (config.port_mode == PortMode::kInclude)
    out.dropped_ports.set();
  for (const auto &r : config.ports)
    for (uint32_t p = r.first; p <= r.last; ++p)
      out.dropped_ports[p] = config.port_mode == PortMode::kExclude;
  return out;
}

}  // namespace pidtree
