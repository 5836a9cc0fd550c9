// Kernel struct offsets from the running kernel's BTF
// (/sys/kernel/btf/vmlinux), for the few fields a BPF program reads straight
// from kernel memory. Never from the headers BCC compiles against: those
// may be another kernel's (see README, "Kernels and backends").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace pidtree {

inline constexpr char kKernelBtf[] = "/sys/kernel/btf/vmlinux";

// Where a process's argv lies: task_struct.mm, then mm_struct.arg_start and
// arg_end (user addresses of the NUL-separated strings exec put on the new
// stack).
struct ArgvOffsets {
  uint32_t task_mm = 0;
  uint32_t mm_arg_start = 0;
  uint32_t mm_arg_end = 0;
};

// The offsets from a BTF file, looking through anonymous structs and unions.
// nullopt, with `why` set, when the file cannot be read or a field is
// missing, a bit field, or not 8 bytes wide.
std::optional<ArgvOffsets> argv_offsets(const std::string &btf_path,
                                        std::string *why);

}  // namespace pidtree
