#include "config/filters.h"

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

std::vector<NetRule> default_rules() {
  std::vector<NetRule> out;
  for (const Cidr &net : default_excluded_networks())
    out.push_back(NetRule{net, RulePorts::kAll, {}});
  return out;
}

bool port_listed(const std::vector<PortRange> &ranges, uint16_t port) {
  for (const auto &r : ranges)
    if (port >= r.first && port <= r.last)
      return true;
  return false;
}

namespace {

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
  const NetRule *best = nullptr;
  for (const auto &rule : config.rules)
    if (rule.network.contains(judged) &&
        (!best || rule.network.prefix > best->network.prefix))
      best = &rule;
  if (!best)
    return false;
  switch (best->mode) {
    case RulePorts::kAll:
      return true;
    case RulePorts::kExcept:
      return !port_listed(best->ports, port);
    case RulePorts::kOnly:
      return port_listed(best->ports, port);
  }
  return false;
}

FilterMapEntries to_map_entries(const FilterConfig &config, uint8_t set,
                                uint8_t slot) {
  FilterMapEntries out;
  out.set = set & 1;
  out.slot = slot;
  // Ids differ between the two sets and the probes, so all fit in one port
  // map.
  uint32_t rule_id =
      static_cast<uint32_t>(slot) << 25 | static_cast<uint32_t>(out.set) << 24;
  for (const auto &rule : config.rules) {
    pidtree_net_rule value{};
    value.rule_id = rule_id++;
    value.port_mode = rule.mode == RulePorts::kAll      ? PIDTREE_PORTS_ALL
                      : rule.mode == RulePorts::kExcept ? PIDTREE_PORTS_EXCEPT
                                                        : PIDTREE_PORTS_ONLY;
    if (rule.mode != RulePorts::kAll && !rule.ports.empty()) {
      pidtree_port_bitmap bitmap{};
      for (const auto &r : rule.ports)
        for (uint32_t p = r.first; p <= r.last; ++p)
          bitmap.bits[p >> 3] |= static_cast<uint8_t>(1u << (p & 7));
      out.rule_ports.emplace_back(value.rule_id, bitmap);
    }
    const Cidr &net = rule.network;
    if (net.network.family == Family::kIpv4) {
      pidtree_lpm_v4_key key{};
      key.prefixlen = 16 + net.prefix;
      key.set = out.set;
      key.probe = slot;
      std::memcpy(key.addr, net.network.bytes.data(), 4);
      out.v4.emplace_back(key, value);
    } else {
      pidtree_lpm_v6_key key{};
      key.prefixlen = 16 + net.prefix;
      key.set = out.set;
      key.probe = slot;
      std::memcpy(key.addr, net.network.bytes.data(), 16);
      out.v6.emplace_back(key, value);
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
