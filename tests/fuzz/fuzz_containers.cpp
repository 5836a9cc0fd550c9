// Container metadata as each runtime leaves it on disk (Docker's
// config.v2.json, Podman's containers.json, an OCI config.json) and cgroup
// paths: parsed or refused, never thrown out of, and a container's fields
// render into valid JSON. The input is the file; its first line is also
// tried as a cgroup path, and its first 64 bytes as the id.
#include <nlohmann/json.hpp>

#include <exception>
#include <string>

#include "enrich/containers.h"
#include "fuzz_util.h"

namespace {

using namespace pidtree;

void check(const std::optional<Container> &c) {
  if (!c)
    return;
  FUZZ_CHECK(c->labels.size() <= 256, std::to_string(c->labels.size()));
  std::string fields = container_fields(*c);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse("{\"x\":0" + fields + "}");
  } catch (const std::exception &e) {
    fuzz::fail("invalid fields", std::string(e.what()) + ": " + fields);
  }
  FUZZ_CHECK(j.is_object(), fields);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  const std::string id = text.substr(0, 64);
  const std::string known_id(64, 'a');
  try {
    for (const std::string *i : {&id, &known_id}) {
      check(parse_docker_config(text, *i));
      check(parse_podman_containers(text, *i));
      check(parse_oci_config(text, *i));
    }
  } catch (const std::exception &e) {
    fuzz::fail("a parser threw", e.what());
  }
  std::string first = text.substr(0, text.find('\n'));
  if (auto name = container_of_cgroup(first)) {
    FUZZ_CHECK(!name->id.empty(), first);
    FUZZ_CHECK(name->id.size() <= first.size(), first);
  }
  return 0;
}
