#include "pidtree/users.h"

#include <pwd.h>

#include <vector>

namespace pidtree {

uint64_t PasswdUserDb::epoch() {
  auto since = std::chrono::steady_clock::now().time_since_epoch();
  return static_cast<uint64_t>(since / ttl_);
}

std::string PasswdUserDb::name(uint32_t uid) {
  uint64_t now = epoch();
  auto it = cache_.find(uid);
  if (it != cache_.end() && it->second.epoch == now)
    return it->second.name;
  std::string name = std::to_string(uid);
  std::vector<char> buf(16384);
  passwd pw{};
  passwd *found = nullptr;
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found &&
      found->pw_name)
    name = found->pw_name;
  cache_[uid] = Entry{name, now};
  return name;
}

}  // namespace pidtree
