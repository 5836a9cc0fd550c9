#include "kernel/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace pidtree {

namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(const std::string &field) {
  auto octal = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && octal(field[i + 1]) &&
        octal(field[i + 2]) && octal(field[i + 3])) {
      out.push_back(static_cast<char>((field[i + 1] - '0') * 64 +
                                      (field[i + 2] - '0') * 8 +
                                      (field[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(field[i]);
    }
  }
  return out;
}

int open_dir(const std::string &path) {
  return ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

}  // namespace

std::string find_cgroup2_root(const std::string &mountinfo) {
  std::istringstream in(mountinfo);
  std::string line;
  while (std::getline(in, line)) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE ...
    std::istringstream fields(line);
    std::vector<std::string> f;
    std::string word;
    while (fields >> word)
      f.push_back(word);
    size_t dash = 6;
    while (dash < f.size() && f[dash] != "-")
      ++dash;
    if (f.size() < 5 || dash + 1 >= f.size())
      continue;
    if (f[dash + 1] == "cgroup2" && f[3] == "/")
      return unescape(f[4]);
  }
  return "";
}

int open_cgroup2_root(std::string *where, std::string *why) {
  std::ifstream file("/proc/self/mountinfo");
  std::stringstream text;
  text << file.rdbuf();
  std::string mount = find_cgroup2_root(text.str());
  if (!mount.empty()) {
    int fd = open_dir(mount);
    if (fd >= 0) {
      *where = mount;
      return fd;
    }
    *why =
        "cannot open the cgroup v2 root " + mount + ": " + std::strerror(errno);
    return -1;
  }
  // No cgroup2 mount: every process is in the v2 root anyway. Mount it on
  // a thread of its own (CLONE_NEWNS takes the thread's root and working
  // directory with it), over a directory that only that thread sees.
  int fd = -1;
  std::string err;
  std::thread mounter([&] {
    if (::unshare(CLONE_NEWNS) != 0) {
      err = std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
      return;
    }
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      err = std::string("making the mount namespace private: ") +
            std::strerror(errno);
      return;
    }
    for (const char *dir : {"/tmp", "/mnt", "/run", "/dev/shm"}) {
      if (::mount("pidtree-bcc", dir, "cgroup2",
                  MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0) {
        fd = open_dir(dir);
        if (fd < 0)
          err = std::string("opening the cgroup v2 root: ") +
                std::strerror(errno);
        ::umount2(dir, MNT_DETACH);
        return;
      }
    }
    err = std::string("mounting cgroup2: ") + std::strerror(errno);
  });
  mounter.join();
  if (fd < 0) {
    *why =
        "no cgroup v2 file system is mounted (none in /proc/self/mountinfo) "
        "and mounting one failed (" +
        err + "): mount -t cgroup2 none /sys/fs/cgroup/unified";
    return -1;
  }
  *where = "(a private cgroup2 mount)";
  return fd;
}

}  // namespace pidtree
