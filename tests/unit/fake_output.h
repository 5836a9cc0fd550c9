// What a stage (pipeline/stage.h) is given, as a fake: trees made up from
// the pid, names and times as text, enrichment that may drop a cgroup.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/stage.h"

namespace pidtree {
namespace testing {

inline Ancestry tree_of(uint32_t pid, const std::string &cmdline) {
  Ancestry a;
  a.tree.push_back(ProcNode{pid, cmdline, "alice"});
  a.tree.push_back(ProcNode{1, "init", "root"});
  return a;
}

class FakeOutput : public LineOutput {
 public:
  std::vector<uint32_t> resolved;
  Ancestry resolve(const EventTask &task) override {
    resolved.push_back(task.pid);
    return tree_of(task.pid, "now " + std::to_string(task.pid));
  }
  std::string username(uint32_t uid) override {
    return "user" + std::to_string(uid);
  }
  std::string timestamp(uint64_t boot_ns) override {
    return "T" + std::to_string(boot_ns);
  }
  const Enrichment *enrich(const EventOrigin &origin) override {
    origins.push_back(origin);
    if (drop_cgroup && origin.cgroup_id == drop_cgroup)
      return nullptr;
    return &enrichment;
  }
  std::string &lines() override { return text; }
  std::string text;
  std::vector<EventOrigin> origins;
  uint64_t drop_cgroup = 0;
  Enrichment enrichment;
};

// Each line of `text`, parsed.
inline std::vector<nlohmann::json> lines_of(const std::string &text) {
  std::vector<nlohmann::json> out;
  size_t at = 0;
  for (size_t nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1)
    out.push_back(nlohmann::json::parse(text.substr(at, nl - at)));
  return out;
}

}  // namespace testing
}  // namespace pidtree
