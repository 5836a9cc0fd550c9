// sourceipmap's host files (/etc/hosts format): every address kept is a
// normalised one, and its names render into a valid JSON string.
#include <nlohmann/json.hpp>

#include <string>
#include <unordered_map>

#include "common/net.h"
#include "enrich/plugins.h"
#include "fuzz_util.h"
#include "output/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace pidtree;
  std::string text(reinterpret_cast<const char *>(data), size);
  std::unordered_map<std::string, std::string> map;
  size_t skipped = 0;
  parse_hosts(text, &map, &skipped);
  for (const auto &[addr, names] : map) {
    IpAddress a;
    try {
      a = parse_ip(addr);
    } catch (const InputError &e) {
      fuzz::fail("a key that is not an address", addr);
    }
    FUZZ_CHECK(format_ip(a) == addr, addr);
    std::string out;
    append_json_string(&out, names);
    FUZZ_CHECK(nlohmann::json::parse(out).is_string(), out);
  }
  return 0;
}
