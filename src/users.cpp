#include "pidtree/users.h"

#include <pwd.h>

#include <vector>

namespace pidtree {

std::string PasswdUserDb::name(uint32_t uid) {
  auto now = std::chrono::steady_clock::now();
  auto it = cache_.find(uid);
  if (it != cache_.end() && now - it->second.fetched < ttl_)
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
