// A probe's filter rules in the kernel: two rule sets in the shared BPF
// maps, in the probe's slot (see bpf/event.h). A reload writes the idle
// set, then flips the probe's `filter_active` entry, one 4-byte map write, so
// every lookup sees the old rules or the new ones, never a mix and never none.
// The set that was live stays untouched until the next reload: a lookup that
// read the old index a moment before the flip still finds all its rules.
#pragma once

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "config/filters.h"

namespace pidtree {

// Thin access to BPF maps by name (kernel/bpf_program.cpp; fakes in the
// unit tests). The reads may be called from another thread than the
// writes.
class MapAccess {
 public:
  virtual ~MapAccess() = default;
  virtual bool update(const char *map, const void *key, const void *value) = 0;
  virtual bool erase(const char *map, const void *key) = 0;
  virtual bool lookup(const char *map, const void *key, void *value) {
    (void)map, (void)key, (void)value;
    return false;
  }
  // The key after `key` (nullptr: the first); false at the end.
  virtual bool next_key(const char *map, const void *key, void *next) {
    (void)map, (void)key, (void)next;
    return false;
  }
  // The value, and the entry gone, in one step.
  virtual bool lookup_and_delete(const char *map, const void *key,
                                 void *value) {
    (void)map, (void)key, (void)value;
    return false;
  }
  // Entry `index` of a per-CPU array of u64, summed over the CPUs.
  virtual bool sum_percpu(const char *map, uint32_t index, uint64_t *sum) {
    (void)map, (void)index, (void)sum;
    return false;
  }
};

class FilterMaps {
 public:
  explicit FilterMaps(MapAccess &maps, uint8_t slot = 0)
      : maps_(maps), slot_(slot) {}

  // "" or why `config` cannot be loaded (checked before any write).
  static std::string check(const FilterConfig &config);

  // Loads `config` into the idle set and makes it live; "" or why not (the
  // live rules are then unchanged). The first call fills set 0.
  std::string apply(const FilterConfig &config);
  int live_set() const { return live_; }  // -1 before the first apply

 private:
  std::string write_set(const FilterMapEntries &entries);

  struct SetContents {
    std::vector<pidtree_lpm_v4_key> v4;
    std::vector<pidtree_lpm_v6_key> v6;
    std::vector<uint32_t> rule_ports;  // rule ids
    std::bitset<65536> dropped_ports;
  };
  MapAccess &maps_;
  uint8_t slot_;
  std::array<SetContents, 2> sets_;
  int live_ = -1;
};

}  // namespace pidtree
