// Decode: raw perf-buffer bytes -> a validated connect event.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "pidtree/net.h"

namespace pidtree {

struct ConnectEvent {
  uint64_t ts_boot_ns = 0;
  uint32_t pid = 0;
  uint32_t tid = 0;
  uint32_t uid = 0;
  Family family = Family::kIpv4;
  IpAddress saddr;
  IpAddress daddr;
  uint16_t sport = 0;
  uint16_t dport = 0;
  std::string comm;
};

// nullopt for a record that is too short, of an unknown kind or family.
std::optional<ConnectEvent> decode_connect_event(const void *data, size_t size);

}  // namespace pidtree
