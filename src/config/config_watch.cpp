#include "config/config_watch.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cstring>

namespace pidtree {

ConfigWatcher::~ConfigWatcher() {
  if (fd_ >= 0)
    close(fd_);
}

std::string ConfigWatcher::watch(const std::vector<std::string> &files) {
  if (fd_ >= 0)
    close(fd_);
  dirs_.clear();
  files_.clear();
  fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0)
    return std::string("cannot watch the configuration: ") + strerror(errno);
  for (const std::string &file : files) {
    char real[PATH_MAX];
    // Through a symlink, the file that changes is the target.
    std::string path = realpath(file.c_str(), real) ? real : file;
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    if (dir.empty())
      dir = "/";
    files_.insert(path);
    bool known = false;
    for (const auto &kv : dirs_)
      known = known || kv.second == dir;
    if (known)
      continue;
    int wd = inotify_add_watch(fd_, dir.c_str(),
                               IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
                                   IN_DELETE | IN_MOVED_FROM | IN_ATTRIB);
    if (wd < 0)
      return "cannot watch " + dir + ": " + strerror(errno);
    dirs_[wd] = dir;
  }
  return "";
}

bool ConfigWatcher::changed() {
  if (fd_ < 0)
    return false;
  bool hit = false;
  alignas(inotify_event) char buf[8192];
  while (true) {
    ssize_t n = read(fd_, buf, sizeof(buf));
    if (n <= 0)
      break;
    for (char *p = buf; p < buf + n;) {
      auto *ev = reinterpret_cast<inotify_event *>(p);
      auto dir = dirs_.find(ev->wd);
      if (dir != dirs_.end() && ev->len > 0) {
        std::string path = dir->second == "/" ? "/" + std::string(ev->name)
                                              : dir->second + "/" + ev->name;
        hit = hit || files_.count(path) > 0;
      }
      p += sizeof(inotify_event) + ev->len;
    }
  }
  return hit;
}

}  // namespace pidtree
