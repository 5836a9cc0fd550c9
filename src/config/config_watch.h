// Notices changes to the configuration file and the files it includes.
// Directories are watched rather than files, so an editor that saves by
// writing a new file and renaming it over the old one is seen too.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace pidtree {

class ConfigWatcher {
 public:
  ConfigWatcher() = default;
  ConfigWatcher(const ConfigWatcher &) = delete;
  ConfigWatcher &operator=(const ConfigWatcher &) = delete;
  ~ConfigWatcher();

  // (Re)places the watches on `files`; "" or why not.
  std::string watch(const std::vector<std::string> &files);
  // True when a watched file changed since the last call; never blocks.
  bool changed();

 private:
  int fd_ = -1;
  std::map<int, std::string> dirs_;  // watch descriptor -> directory
  std::set<std::string> files_;      // full paths
};

}  // namespace pidtree
