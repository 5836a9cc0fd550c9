// Upstream's plugins, per probe: sourceipmap (the event's source address
// -> the rest of its host-file line, in `attribute_key`), loginuidmap (the
// audit login uid and its user name on the tree's nodes) and
// identityplugin (nothing).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "enrich/origin.h"
#include "output/json.h"

namespace pidtree {

class Plugin {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~Plugin() = default;
  // Appends its fields to a line's (",\"key\":value").
  virtual void add_fields(const EventOrigin &origin, std::string *fields) {
    (void)origin, (void)fields;
  }
  virtual LoginFields login() const { return LoginFields::kNone; }
  // Between events, often: notices changed files (notes for stderr).
  virtual void maintain(Clock::time_point now,
                        std::vector<std::string> *notes) {
    (void)now, (void)notes;
  }
};

// /etc/hosts-format text -> address (normalised) -> the rest of its line,
// words joined by one space. Comments (# to the end of a line) and lines
// without a valid address are left out (counted in `skipped`). A later line
// for the same address wins.
void parse_hosts(const std::string &text,
                 std::unordered_map<std::string, std::string> *out,
                 size_t *skipped);

// sourceipmap: the files are read at start (a missing or unreadable one is
// an error), checked for changes every `check` (their mtime, size and
// inode; never per event), and re-read when changed; a file that
// disappears keeps its last map, with a note. Merged in list order: the
// later file wins an address both have.
class SourceIpMap : public Plugin {
 public:
  // Throws std::runtime_error (one line) when a file cannot be read.
  SourceIpMap(std::vector<std::string> files, std::string attribute_key,
              Clock::duration check = std::chrono::milliseconds(500));
  void add_fields(const EventOrigin &origin, std::string *fields) override;
  void maintain(Clock::time_point now,
                std::vector<std::string> *notes) override;
  size_t size() const { return merged_.size(); }

 private:
  struct File {
    std::string path;
    struct Stamp {
      dev_t dev = 0;
      ino_t ino = 0;
      off_t size = -1;
      int64_t mtime_ns = -1;
      static Stamp of(const struct stat &st) {
        return Stamp{st.st_dev, st.st_ino, st.st_size,
                     static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 +
                         st.st_mtim.tv_nsec};
      }
      bool operator==(const Stamp &o) const {
        return dev == o.dev && ino == o.ino && size == o.size &&
               mtime_ns == o.mtime_ns;
      }
    } stamp;
    bool missing = false;  // gone since: its last map is kept
    std::unordered_map<std::string, std::string> hosts;
  };
  // false (with `why`) when the file cannot be read now.
  bool load(File *f, std::string *why);
  void merge();

  std::vector<File> files_;
  std::string key_;  // ,"attribute_key":
  Clock::duration check_;
  Clock::time_point last_check_{};
  std::unordered_map<std::string, std::string> merged_;
};

class LoginUidMap : public Plugin {
 public:
  explicit LoginUidMap(bool top_level) : top_level_(top_level) {}
  LoginFields login() const override {
    return top_level_ ? LoginFields::kFirst : LoginFields::kAll;
  }

 private:
  bool top_level_;
};

class IdentityPlugin : public Plugin {};

// The plugin a configuration names; throws std::runtime_error (one line,
// without the position) when it cannot start.
std::unique_ptr<Plugin> make_plugin(const PluginConfig &config);

}  // namespace pidtree
