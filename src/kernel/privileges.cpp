#include "kernel/privileges.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace pidtree {

std::vector<int> kept_capabilities(int last_cap) {
  std::vector<int> keep = {kCapDacReadSearch, kCapSysPtrace};
  keep.push_back(last_cap >= kCapBpf ? kCapBpf : kCapSysAdmin);
  std::sort(keep.begin(), keep.end());
  return keep;
}

uint64_t capability_mask(const std::vector<int> &caps) {
  uint64_t mask = 0;
  for (int c : caps)
    if (c >= 0 && c < 64)
      mask |= uint64_t{1} << c;
  return mask;
}

int read_cap_last_cap() {
  std::ifstream f("/proc/sys/kernel/cap_last_cap");
  int last = -1;
  if (!(f >> last))
    return -1;
  return last;
}

std::string drop_privileges(const std::vector<int> &keep) {
  // Capabilities are per thread: a thread started before the drop (a
  // name lookup of libcurl's left behind by a timeout) would keep them.
  std::error_code ec;
  size_t threads = 0;
  for (std::filesystem::directory_iterator it("/proc/self/task", ec), end;
       !ec && it != end; it.increment(ec))
    ++threads;
  if (threads > 1)
    return std::to_string(threads) +
           " threads are running where one is expected; capabilities would "
           "be dropped from one of them only";
  int last = read_cap_last_cap();
  if (last < 0)
    last = 63;
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &header, data) != 0)
    return std::string("cannot read the capabilities held: ") +
           std::strerror(errno);
  const uint64_t held =
      data[0].permitted | static_cast<uint64_t>(data[1].permitted) << 32;
  const uint64_t effective =
      data[0].effective | static_cast<uint64_t>(data[1].effective) << 32;
  // What is kept and held (a tracer started with fewer keeps fewer).
  const uint64_t mask = capability_mask(keep) & held;
  // The bounding set first: dropping from it needs CAP_SETPCAP, which the
  // sets below then lose. Without it (started with fewer capabilities) the
  // bounding set stays; no_new_privs still keeps an exec from raising any.
  const bool setpcap = effective & (uint64_t{1} << CAP_SETPCAP);
  for (int cap = 0; setpcap && cap <= last && cap < 64; cap++) {
    if (mask & (uint64_t{1} << cap))
      continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      return "cannot drop capability " + std::to_string(cap) +
             " from the bounding set: " + std::strerror(errno);
  }
  // Ambient capabilities (none are expected): cleared where the kernel
  // has them (4.3 and later).
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 &&
      errno != EINVAL)
    return std::string("cannot clear the ambient capabilities: ") +
           std::strerror(errno);
  for (int i = 0; i < 2; i++) {
    uint32_t word = static_cast<uint32_t>(mask >> (32 * i));
    data[i].effective = word;
    data[i].permitted = word;
    data[i].inheritable = 0;
  }
  if (syscall(SYS_capset, &header, data) != 0)
    return std::string("cannot set the capabilities kept: ") +
           std::strerror(errno);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return std::string("cannot set no_new_privs: ") + std::strerror(errno);
  return "";
}

}  // namespace pidtree
