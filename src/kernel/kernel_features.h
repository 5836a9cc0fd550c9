// What the running kernel offers, and which probe backend that allows.
#pragma once

#include <string>

#include "config/options.h"

namespace pidtree {

// Kernel facilities, found under a root directory (tests use fixture trees).
class KernelFeatures {
 public:
  explicit KernelFeatures(std::string root = "") : root_(std::move(root)) {}
  // The tracefs mount ("" if none) with its events/ directory.
  std::string tracefs_dir() const;
  bool has_kprobes() const;
  bool has_connect_tracepoint() const;
  bool has_tracepoint(const std::string &category,
                      const std::string &name) const;
  // sched:sched_process_exit carries group_dead (Linux 6.16+).
  bool exit_has_group_dead() const;
  // Headers BCC can compile against for `release` (uname -r).
  bool has_kernel_headers(const std::string &release) const;

 private:
  bool exists(const std::string &path) const;
  std::string root_;
};

// Picks the backend for a request; throws std::runtime_error with a one-line
// reason when the kernel cannot honour it.
Backend resolve_backend(Backend requested, const KernelFeatures &kernel);

}  // namespace pidtree
