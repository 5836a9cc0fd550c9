#include "kernel/kernel_features.h"

#include <sys/stat.h>

#include <fstream>
#include <stdexcept>

namespace pidtree {

bool KernelFeatures::exists(const std::string &path) const {
  struct stat st {};
  return ::stat((root_ + path).c_str(), &st) == 0;
}

std::string KernelFeatures::tracefs_dir() const {
  for (const char *dir : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"})
    if (exists(std::string(dir) + "/events"))
      return dir;
  return "";
}

bool KernelFeatures::has_kprobes() const {
  // The perf kprobe PMU (4.17+) or the legacy tracefs interface.
  if (exists("/sys/bus/event_source/devices/kprobe"))
    return true;
  std::string tracefs = tracefs_dir();
  return !tracefs.empty() && exists(tracefs + "/kprobe_events");
}

bool KernelFeatures::has_connect_tracepoint() const {
  return has_tracepoint("sock", "inet_sock_set_state");
}

bool KernelFeatures::has_tracepoint(const std::string &category,
                                    const std::string &name) const {
  std::string tracefs = tracefs_dir();
  return !tracefs.empty() &&
         exists(tracefs + "/events/" + category + "/" + name + "/format");
}

bool KernelFeatures::exit_has_group_dead() const {
  std::string tracefs = tracefs_dir();
  if (tracefs.empty())
    return false;
  std::ifstream format(root_ + tracefs +
                       "/events/sched/sched_process_exit/format");
  std::string line;
  while (std::getline(format, line))
    if (line.find(" group_dead;") != std::string::npos)
      return true;
  return false;
}

bool KernelFeatures::has_kernel_headers(const std::string &release) const {
  return exists("/lib/modules/" + release + "/build/include") ||
         exists("/sys/kernel/kheaders.tar.xz");
}

Backend resolve_backend(Backend requested, const KernelFeatures &kernel) {
  switch (requested) {
    case Backend::kKprobe:
      if (!kernel.has_kprobes())
        throw std::runtime_error(
            "--backend kprobe: this kernel has no kprobes (CONFIG_KPROBES "
            "is not set); use --backend tracepoint or auto");
      return Backend::kKprobe;
    case Backend::kTracepoint:
      if (!kernel.has_connect_tracepoint())
        throw std::runtime_error(
            "--backend tracepoint: this kernel has no "
            "sock:inet_sock_set_state tracepoint (it needs Linux 4.16+)");
      return Backend::kTracepoint;
    case Backend::kAuto:
      if (kernel.has_kprobes())
        return Backend::kKprobe;
      if (kernel.has_connect_tracepoint())
        return Backend::kTracepoint;
      throw std::runtime_error(
          "this kernel has neither kprobes nor the sock:inet_sock_set_state "
          "tracepoint, so no backend can trace connects");
  }
  throw std::runtime_error("unknown backend");
}

}  // namespace pidtree
