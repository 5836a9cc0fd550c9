#include "common/net.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace pidtree {

namespace {

std::string quoted(const std::string &text) {
  return "'" + printable(text) + "'";
}

std::string trim(const std::string &s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b])))
    ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])))
    --e;
  return s.substr(b, e - b);
}

// Decimal digits only (no sign, no spaces), value <= max.
bool parse_uint(const std::string &s, unsigned long max, unsigned long *out) {
  if (s.empty() || s.size() > 10)
    return false;
  unsigned long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return false;
    v = v * 10 + static_cast<unsigned long>(c - '0');
  }
  if (v > max)
    return false;
  *out = v;
  return true;
}

}  // namespace

bool has_url_scheme(const std::string &url, const char *scheme) {
  const size_t n = std::strlen(scheme);
  if (url.size() <= n + 3 || url.compare(n, 3, "://") != 0)
    return false;
  for (size_t i = 0; i < n; ++i)
    if (std::tolower(static_cast<unsigned char>(url[i])) !=
        std::tolower(static_cast<unsigned char>(scheme[i])))
      return false;
  return true;
}

std::string printable(const std::string &text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : text.substr(0, 200)) {
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > 200)
    out += "...";
  return out;
}

IpAddress parse_ip(const std::string &text) {
  IpAddress addr;
  if (text.find(':') != std::string::npos) {
    addr.family = Family::kIpv6;
    if (inet_pton(AF_INET6, text.c_str(), addr.bytes.data()) == 1)
      return addr;
  } else {
    addr.family = Family::kIpv4;
    if (inet_pton(AF_INET, text.c_str(), addr.bytes.data()) == 1)
      return addr;
  }
  throw InputError("invalid IP address " + quoted(text));
}

std::string format_ip(Family family, const uint8_t *bytes) {
  if (family == Family::kIpv4) {
    // By hand: inet_ntop goes through snprintf, a tenth of the cost of an
    // event at full rate.
    char buf[16];
    size_t n = 0;
    for (int i = 0; i < 4; ++i) {
      unsigned v = bytes[i];
      if (v >= 100)
        buf[n++] = static_cast<char>('0' + v / 100);
      if (v >= 10)
        buf[n++] = static_cast<char>('0' + v / 10 % 10);
      buf[n++] = static_cast<char>('0' + v % 10);
      if (i < 3)
        buf[n++] = '.';
    }
    return std::string(buf, n);
  }
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == Family::kIpv4 ? AF_INET : AF_INET6, bytes, buf,
            sizeof(buf));
  return buf;
}

std::string format_ip(const IpAddress &addr) {
  return format_ip(addr.family, addr.bytes.data());
}

IpAddress mask_address(const IpAddress &addr, unsigned prefix) {
  IpAddress out = addr;
  for (size_t i = 0; i < out.size(); ++i) {
    unsigned bit = static_cast<unsigned>(i) * 8;
    if (bit >= prefix)
      out.bytes[i] = 0;
    else if (prefix - bit < 8)
      out.bytes[i] &= static_cast<uint8_t>(0xff << (8 - (prefix - bit)));
  }
  return out;
}

bool Cidr::contains(const IpAddress &addr) const {
  return addr.family == network.family && mask_address(addr, prefix) == network;
}

Cidr parse_cidr(const std::string &raw) {
  std::string text = trim(raw);
  Cidr cidr;
  size_t slash = text.find('/');
  std::string addr_text = text.substr(0, slash);
  try {
    cidr.network = parse_ip(addr_text);
  } catch (const InputError &) {
    throw InputError("invalid network " + quoted(raw) + ": " +
                     quoted(addr_text) + " is not an IPv4 or IPv6 address");
  }
  cidr.prefix = cidr.network.max_prefix();
  if (slash != std::string::npos) {
    unsigned long prefix = 0;
    std::string prefix_text = text.substr(slash + 1);
    if (!parse_uint(prefix_text, cidr.network.max_prefix(), &prefix) ||
        (prefix_text.size() > 1 && prefix_text[0] == '0'))
      throw InputError("invalid network " + quoted(raw) +
                       ": prefix length must be 0-" +
                       std::to_string(cidr.network.max_prefix()));
    cidr.prefix = static_cast<unsigned>(prefix);
  }
  IpAddress masked = mask_address(cidr.network, cidr.prefix);
  if (!(masked == cidr.network))
    throw InputError("invalid network " + quoted(raw) +
                     ": host bits are set (did you mean " + format_ip(masked) +
                     "/" + std::to_string(cidr.prefix) + "?)");
  // Mapped destinations are judged by their IPv4 part, so a rule inside
  // ::ffff:0:0/96 could never match: ask for the IPv4 network instead.
  static const Cidr kMapped{parse_ip("::ffff:0:0"), 96};
  if (cidr.prefix >= 96 && kMapped.contains(cidr.network)) {
    IpAddress v4;
    v4.family = Family::kIpv4;
    std::copy(cidr.network.bytes.begin() + 12, cidr.network.bytes.end(),
              v4.bytes.begin());
    throw InputError("invalid network " + quoted(raw) +
                     ": IPv4-mapped destinations are filtered by their IPv4 "
                     "part; use " +
                     format_ip(v4) + "/" + std::to_string(cidr.prefix - 96));
  }
  return cidr;
}

std::string format_cidr(const Cidr &cidr) {
  return format_ip(cidr.network) + "/" + std::to_string(cidr.prefix);
}

PortRange parse_port_range(const std::string &raw) {
  std::string text = trim(raw);
  size_t dash = text.find('-');
  unsigned long first = 0, last = 0;
  bool ok;
  if (dash == std::string::npos) {
    ok = parse_uint(text, 65535, &first);
    last = first;
  } else {
    ok = parse_uint(trim(text.substr(0, dash)), 65535, &first) &&
         parse_uint(trim(text.substr(dash + 1)), 65535, &last);
  }
  if (!ok)
    throw InputError("invalid port " + quoted(raw) +
                     ": expected a port 0-65535 or a range like 8000-9000");
  if (first > last)
    throw InputError("invalid port range " + quoted(raw) +
                     ": the first port is above the last");
  return {static_cast<uint16_t>(first), static_cast<uint16_t>(last)};
}

std::vector<PortRange> parse_port_spec(const std::string &text) {
  std::vector<PortRange> ranges;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(
        start, comma == std::string::npos ? std::string::npos : comma - start);
    if (trim(item).empty())
      throw InputError("invalid port list " + quoted(text) +
                       ": empty item (expected e.g. 22,80,8000-9000)");
    ranges.push_back(parse_port_range(item));
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return ranges;
}

}  // namespace pidtree
