// container_labels matching, as upstream: an entry "k=glob,k2=glob2"
// matches a container that has every key with a value the glob matches
// (fnmatch: *, ?, [...]); entries are OR'ed; a container without labels
// matches none.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/config.h"

namespace pidtree {

bool labels_match(const std::vector<LabelRule> &rules,
                  const std::map<std::string, std::string> &labels);

}  // namespace pidtree
