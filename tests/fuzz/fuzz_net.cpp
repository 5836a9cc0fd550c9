// CIDRs, addresses and port specs, as flags and configuration give them:
// parsed or refused with an InputError, and what parses prints back to
// something that parses to the same.
#include <exception>
#include <string>

#include "common/net.h"
#include "fuzz_util.h"

namespace {

template <typename Fn>
void refused_cleanly(const char *what, Fn fn) {
  try {
    fn();
  } catch (const pidtree::InputError &e) {
    std::string msg = e.what();
    FUZZ_CHECK(!msg.empty(), what);
    FUZZ_CHECK(msg.find('\n') == std::string::npos, msg);
  } catch (const std::exception &e) {
    pidtree::fuzz::fail(what, e.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace pidtree;
  std::string text(reinterpret_cast<const char *>(data), size);
  refused_cleanly("parse_cidr", [&] {
    Cidr c = parse_cidr(text);
    std::string shown = format_cidr(c);
    Cidr again = parse_cidr(shown);
    FUZZ_CHECK(format_cidr(again) == shown, shown);
    FUZZ_CHECK(mask_address(c.network, c.prefix).bytes == c.network.bytes,
               shown);
  });
  refused_cleanly("parse_ip", [&] {
    IpAddress a = parse_ip(text);
    std::string shown = format_ip(a);
    FUZZ_CHECK(format_ip(parse_ip(shown)) == shown, shown);
  });
  refused_cleanly("parse_port_spec", [&] {
    for (const PortRange &r : parse_port_spec(text))
      FUZZ_CHECK(r.first <= r.last, text);
  });
  refused_cleanly("parse_port_range", [&] {
    PortRange r = parse_port_range(text);
    FUZZ_CHECK(r.first <= r.last, text);
  });
  std::string shown = printable(text);
  FUZZ_CHECK(shown.find('\n') == std::string::npos, shown);
  return 0;
}
