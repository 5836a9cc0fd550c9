// Giving back what the BPF compiler no longer needs once the program is
// loaded: freed heap, and the pages of LLVM/Clang code it ran.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pidtree {

struct Mapping {
  uintptr_t start = 0;
  uintptr_t end = 0;
  std::string path;
};

// From /proc/self/smaps text: the mappings of a file whose name contains one
// of `names` that are not writable and hold no anonymous (copied-on-write)
// pages. Dropping their pages loses nothing: touched again, they are read
// back from the page cache, where they stay. Malformed lines are skipped.
std::vector<Mapping> droppable_mappings(const std::string &smaps,
                                        const std::vector<std::string> &names);

// The libraries BCC compiles with; their code is not run again after the
// compile except by accident (then it is simply faulted back in).
inline const std::vector<std::string> kCompilerLibraries = {"libLLVM",
                                                            "libclang"};

// Trims the heap and drops the pages of the compiler's code mappings from
// this process (madvise MADV_DONTNEED). Returns the bytes of mappings
// advised; errors are ignored (the memory just stays).
size_t release_compiler_pages();

}  // namespace pidtree
