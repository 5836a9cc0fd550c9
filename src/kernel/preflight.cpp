#include "kernel/preflight.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstring>

namespace pidtree {

namespace {

bool has_effective_cap(const __user_cap_data_struct *data, int cap) {
  return (data[cap / 32].effective & (1u << (cap % 32))) != 0;
}

}  // namespace

std::string check_privileges() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0)
    return geteuid() == 0 ? "" : "needs root: run it with sudo";
#ifndef CAP_BPF
#define CAP_BPF 39
#define CAP_PERFMON 38
#endif
  if (has_effective_cap(data, CAP_SYS_ADMIN) ||
      (has_effective_cap(data, CAP_BPF) &&
       has_effective_cap(data, CAP_PERFMON)))
    return "";
  return "needs root (or CAP_BPF and CAP_PERFMON) to load BPF programs: run "
         "it with sudo";
}

std::string ensure_tracefs(const KernelFeatures &kernel) {
  if (!kernel.tracefs_dir().empty())
    return "";
  if (::mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) == 0 &&
      !kernel.tracefs_dir().empty())
    return "";
  return std::string("tracefs is not mounted and mounting it failed (") +
         std::strerror(errno) +
         "): run 'mount -t tracefs tracefs /sys/kernel/tracing'";
}

std::string kernel_release() {
  utsname u{};
  return uname(&u) == 0 ? u.release : "";
}

std::string check_kernel_headers(const KernelFeatures &kernel,
                                 const std::string &release) {
  if (kernel.has_kernel_headers(release))
    return "";
  return "no kernel headers for " + release +
         " (BCC compiles against /lib/"
         "modules/" +
         release + "/build): install linux-headers-" + release +
         ", or run scripts/setup.sh to link the distribution's generic "
         "headers";
}

}  // namespace pidtree
