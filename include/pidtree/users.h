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
};

class PasswdUserDb : public UserDb {
 public:
  explicit PasswdUserDb(std::chrono::seconds ttl = std::chrono::seconds(60))
      : ttl_(ttl) {}
  std::string name(uint32_t uid) override;

 private:
  struct Entry {
    std::string name;
    std::chrono::steady_clock::time_point fetched;
  };
  std::chrono::seconds ttl_;
  std::unordered_map<uint32_t, Entry> cache_;
};

}  // namespace pidtree
