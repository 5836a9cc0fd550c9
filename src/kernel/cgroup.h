// The root of the cgroup v2 hierarchy, where the cgroup BPF programs attach
// so that they run for every socket on the host (every cgroup below it).
#pragma once

#include <string>

namespace pidtree {

// The mount point of a cgroup2 file system whose root is the hierarchy's
// root ("/" in field 4), from /proc/self/mountinfo text; "" if none.
std::string find_cgroup2_root(const std::string &mountinfo);

// An O_RDONLY descriptor of the cgroup v2 root, or -1 with `why`. When no
// cgroup2 file system is mounted (a v1-only host), it is mounted for a
// moment on a thread with a private mount namespace: the descriptor stays,
// the mount is seen nowhere. `where` says which it was.
int open_cgroup2_root(std::string *where, std::string *why);

}  // namespace pidtree
