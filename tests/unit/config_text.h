// A probe section's tests load configuration text through the real loader
// (a temporary file, as a user's would be); tests of includes and reloads
// write their files into a TempDir.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.h"

namespace pidtree {
namespace testing {

class TempFile {
 public:
  explicit TempFile(const std::string &text) {
    path_ = std::filesystem::temp_directory_path() /
            ("pidtree-test-" + std::to_string(getpid()) + "-" +
             std::to_string(counter_++) + ".yml");
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::string &path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

// A directory of files under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/pidtree-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  // Writes `name` (subdirectories made as needed); returns its path.
  std::string write(const std::string &name, const std::string &text) const {
    std::string p = path_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  const std::string &path() const { return path_; }

 private:
  std::string path_;
};

inline FileConfig load(const std::string &text) {
  TempFile f(text);
  return load_config(f.path());
}

// The loader's error for `text`, with the file's path shown as "F";
// "<no error>" when it loads.
inline std::string error_of(const std::string &text) {
  TempFile f(text);
  try {
    load_config(f.path());
  } catch (const ConfigError &e) {
    std::string msg = e.what();
    size_t at = msg.find(f.path());
    if (at != std::string::npos)
      msg.replace(at, f.path().size(), "F");
    return msg;
  }
  return "<no error>";
}

}  // namespace testing
}  // namespace pidtree
