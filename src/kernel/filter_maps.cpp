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
  // Only the 64-port words that change.
  const uint32_t base =
      (static_cast<uint32_t>(slot_) * 2 + entries.set) * PIDTREE_PORT_WORDS;
  for (uint32_t word = 0; word < PIDTREE_PORT_WORDS; ++word) {
    uint64_t value = 0, before = 0;
    for (uint32_t bit = 0; bit < 64; ++bit) {
      value |= static_cast<uint64_t>(entries.dropped_ports[word * 64 + bit])
               << bit;
      before |= static_cast<uint64_t>(old.dropped_ports[word * 64 + bit])
                << bit;
    }
    if (value == before)
      continue;
    int key = static_cast<int>(base + word);
    if (!maps_.update("port_filter_bits", &key, &value))
      return fail("port_filter_bits");
    for (uint32_t bit = 0; bit < 64; ++bit)
      old.dropped_ports[word * 64 + bit] = (value >> bit) & 1;
  }
  return "";
}

std::string FilterMaps::check(const FilterConfig &config) {
  size_t v4 = 0, v6 = 0;
  for (const auto &rule : config.rules)
    ++(rule.network.network.family == Family::kIpv4 ? v4 : v6);
  if (v4 > kMaxRulesPerSet || v6 > kMaxRulesPerSet)
    return "too many network rules (" + std::to_string(v4) + " IPv4, " +
           std::to_string(v6) + " IPv6; at most " +
           std::to_string(kMaxRulesPerSet) + " of each)";
  return "";
}

std::string FilterMaps::apply(const FilterConfig &config) {
  std::string err = check(config);
  if (!err.empty())
    return err;
  uint8_t idle = live_ == 0 ? 1 : 0;
  FilterMapEntries entries = to_map_entries(config, idle, slot_);
  err = write_set(entries);
  if (!err.empty())
    return err;
  int key = slot_;
  uint32_t value = idle;
  if (!maps_.update("filter_active", &key, &value))
    return "cannot write the BPF map filter_active";
  live_ = idle;
  return "";
}

}  // namespace pidtree
