#include "kernel/filter_maps.h"

#include "kernel/program.h"

namespace pidtree {

std::string FilterMaps::write_set(const FilterMapEntries &entries) {
  SetContents &old = sets_[entries.set];
  auto fail = [](const char *map) {
    return std::string("cannot write the BPF map ") + map +
           " (more rules than it holds?)";
  };
  // Empty the set first; what is deleted is forgotten at once, so a failed
  // write leaves the bookkeeping true to the map.
  for (; !old.v4.empty(); old.v4.pop_back())
    maps_.erase("filter_v4", &old.v4.back());
  for (; !old.v6.empty(); old.v6.pop_back())
    maps_.erase("filter_v6", &old.v6.back());
  for (; !old.rule_ports.empty(); old.rule_ports.pop_back())
    maps_.erase("filter_rule_ports", &old.rule_ports.back());
  for (const auto &e : entries.rule_ports) {
    if (!maps_.update("filter_rule_ports", &e.first, &e.second))
      return fail("filter_rule_ports");
    old.rule_ports.push_back(e.first);
  }
  for (const auto &e : entries.v4) {
    if (!maps_.update("filter_v4", &e.first, &e.second))
      return fail("filter_v4");
    old.v4.push_back(e.first);
  }
  for (const auto &e : entries.v6) {
    if (!maps_.update("filter_v6", &e.first, &e.second))
      return fail("filter_v6");
    old.v6.push_back(e.first);
  }
  // Only the ports that change: an include list flips ~65k of them once.
  for (uint32_t port = 0; port < 65536; ++port) {
    bool dropped = entries.dropped_ports[port];
    if (dropped == old.dropped_ports[port])
      continue;
    int key = static_cast<int>(static_cast<uint32_t>(entries.set) << 16 | port);
    uint8_t value = dropped ? 1 : 0;
    if (!maps_.update("port_filtered", &key, &value))
      return fail("port_filtered");
    old.dropped_ports[port] = dropped;
  }
  return "";
}

std::string FilterMaps::apply(const FilterConfig &config) {
  uint8_t idle = live_ == 0 ? 1 : 0;
  FilterMapEntries entries = to_map_entries(config, idle);
  if (entries.v4.size() > kMaxRulesPerSet ||
      entries.v6.size() > kMaxRulesPerSet)
    return "too many network rules (" + std::to_string(entries.v4.size()) +
           " IPv4, " + std::to_string(entries.v6.size()) + " IPv6; at most " +
           std::to_string(kMaxRulesPerSet) + " of each)";
  std::string err = write_set(entries);
  if (!err.empty())
    return err;
  int key = 0;
  uint32_t value = idle;
  if (!maps_.update("filter_active", &key, &value))
    return "cannot write the BPF map filter_active";
  live_ = idle;
  return "";
}

}  // namespace pidtree
