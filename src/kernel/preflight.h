// Checks made before compiling, each failing with a cause and a fix.
#pragma once

#include <string>

#include "kernel/kernel_features.h"

namespace pidtree {

// "" when the process may use BPF and perf events, else the reason.
std::string check_privileges();
// Mounts tracefs if no tracefs is mounted; "" or the reason it failed.
std::string ensure_tracefs(const KernelFeatures &kernel);
// "" when BCC will find headers for the running kernel, else the fix.
std::string check_kernel_headers(const KernelFeatures &kernel,
                                 const std::string &release);
std::string kernel_release();

}  // namespace pidtree
