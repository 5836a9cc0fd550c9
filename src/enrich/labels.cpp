#include "enrich/labels.h"

#include <fnmatch.h>

namespace pidtree {

bool labels_match(const std::vector<LabelRule> &rules,
                  const std::map<std::string, std::string> &labels) {
  if (labels.empty())
    return false;
  for (const LabelRule &rule : rules) {
    bool all = true;
    for (const auto &[key, glob] : rule.terms) {
      auto it = labels.find(key);
      // A NUL in a label cannot reach fnmatch: such a value matches only
      // a glob that matches its part before the NUL, as C sees it.
      if (it == labels.end() ||
          fnmatch(glob.c_str(), it->second.c_str(), 0) != 0) {
        all = false;
        break;
      }
    }
    if (all)
      return true;
  }
  return false;
}

}  // namespace pidtree
