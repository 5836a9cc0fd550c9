// Addresses, CIDR networks and port sets: parsing (strict, with one-line
// errors that name the offending text) and formatting.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace pidtree {

// Thrown for any unparsable user input; what() is a complete one-line message.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `text` made safe for a one-line message: control bytes become \xNN and
// anything past 200 bytes becomes "...".
std::string printable(const std::string &text);

// True when `url` starts with `scheme` and "://", in any case (schemes are
// case-insensitive: HTTPS://host is https).
bool has_url_scheme(const std::string &url, const char *scheme);

enum class Family { kIpv4, kIpv6 };

struct IpAddress {
  Family family = Family::kIpv4;
  // Network byte order; IPv4 uses the first 4 bytes, the rest stay zero.
  std::array<uint8_t, 16> bytes{};

  size_t size() const { return family == Family::kIpv4 ? 4 : 16; }
  unsigned max_prefix() const { return family == Family::kIpv4 ? 32 : 128; }
  bool operator==(const IpAddress &o) const {
    return family == o.family && bytes == o.bytes;
  }
};

// Parses a literal IPv4 (dotted quad) or IPv6 address. No names, no scopes.
IpAddress parse_ip(const std::string &text);
// Dotted quad for IPv4, RFC 5952 for IPv6.
std::string format_ip(const IpAddress &addr);
std::string format_ip(Family family, const uint8_t *bytes);

struct Cidr {
  IpAddress network;
  unsigned prefix = 0;

  bool contains(const IpAddress &addr) const;
  bool operator==(const Cidr &o) const {
    return network == o.network && prefix == o.prefix;
  }
};

// "10.0.0.0/8", "2001:db8::/32", or a bare address (a host network).
// Host bits set after the prefix are an error, with the network suggested.
Cidr parse_cidr(const std::string &text);
std::string format_cidr(const Cidr &cidr);

// The network of `addr` under `prefix` (host bits cleared).
IpAddress mask_address(const IpAddress &addr, unsigned prefix);

struct PortRange {
  uint16_t first = 0;
  uint16_t last = 0;
};

// "22,80,8000-9000": comma separated ports (0-65535) or inclusive ranges.
std::vector<PortRange> parse_port_spec(const std::string &text);
// A single port or range, e.g. "443" or "8000-9000".
PortRange parse_port_range(const std::string &text);

}  // namespace pidtree
