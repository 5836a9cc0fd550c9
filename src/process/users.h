// uid -> user name, cached (NSS lookups can be slow).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace pidtree {

class UserDb {
 public:
  virtual ~UserDb() = default;
  // The user name, or the numeric uid as text when there is no entry.
  virtual std::string name(uint32_t uid) = 0;
  // Changes when names given before may be out of date: whoever keeps a
  // name (the process table's nodes) asks again once it has moved on.
  virtual uint64_t epoch() { return 0; }
};

class PasswdUserDb : public UserDb {
 public:
  explicit PasswdUserDb(std::chrono::seconds ttl = std::chrono::seconds(60))
      : ttl_(ttl) {}
  std::string name(uint32_t uid) override;
  // Periods of `ttl` on the monotonic clock: a name is kept until the
  // period it was read in ends, so never longer than `ttl`.
  uint64_t epoch() override;

 private:
  struct Entry {
    std::string name;
    uint64_t epoch;
  };
  std::chrono::seconds ttl_;
  std::unordered_map<uint32_t, Entry> cache_;
};

}  // namespace pidtree
