// What every probe's decoder does first with a raw perf record: check its
// size and kind, and turn the kernel's address family and comm into ours.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "common/net.h"

namespace pidtree {

// The record as `Raw`, or nullopt when it is too short (perf records are
// padded to 8 bytes, so only a short one is wrong) or of another kind.
template <typename Raw>
std::optional<Raw> read_record(const void *data, size_t size, uint32_t kind) {
  if (data == nullptr || size < sizeof(Raw))
    return std::nullopt;
  Raw raw;
  std::memcpy(&raw, data, sizeof(raw));
  if (raw.kind != kind)
    return std::nullopt;
  return raw;
}

// AF_INET (2) and AF_INET6 (10); nullopt for anything else.
inline std::optional<Family> record_family(uint16_t af) {
  if (af == 2)
    return Family::kIpv4;
  if (af == 10)
    return Family::kIpv6;
  return std::nullopt;
}

// An address of `family` from the record's 16 bytes (network order).
inline IpAddress record_address(Family family, const uint8_t *bytes) {
  IpAddress a;
  a.family = family;
  std::memcpy(a.bytes.data(), bytes, a.size());
  return a;
}

// The kernel's comm: up to its size, NUL-terminated or not.
template <size_t N>
std::string record_comm(const char (&comm)[N]) {
  return std::string(comm, strnlen(comm, N));
}

}  // namespace pidtree
