// What every fuzz target shares: a failed check aborts (libFuzzer reports
// it with the input), and a private directory for targets whose code under
// test reads files.
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

namespace pidtree {
namespace fuzz {

[[noreturn]] inline void fail(const char *what, const std::string &detail) {
  fprintf(stderr, "fuzz check failed: %s: %s\n", what, detail.c_str());
  abort();
}

#define FUZZ_CHECK(cond, detail)            \
  do {                                      \
    if (!(cond))                            \
      ::pidtree::fuzz::fail(#cond, detail); \
  } while (0)

// A directory of this process's own, made once under $PIDTREE_FUZZ_SCRATCH
// (run.sh's, removed after the run), else /dev/shm or /tmp: the targets
// write a file per input.
inline const std::string &scratch_dir() {
  static const std::string dir = [] {
    const char *env = getenv("PIDTREE_FUZZ_SCRATCH");
    std::string base = env && *env                     ? env
                       : access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                                                       : "/tmp";
    std::string templ = base + "/pidtree-fuzz-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr)
      fail("mkdtemp", templ);
    return templ;
  }();
  return dir;
}

inline void write_file(const std::string &path, const uint8_t *data,
                       size_t size) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char *>(data),
          static_cast<std::streamsize>(size));
  if (!f)
    fail("write", path);
}

// Splits the input at the first occurrence of `sep` (the seeds use it to
// give a target two files or two fields); the second part is empty when
// there is none.
inline std::pair<std::string, std::string> split(const uint8_t *data,
                                                 size_t size,
                                                 const std::string &sep) {
  std::string all(reinterpret_cast<const char *>(data), size);
  size_t at = all.find(sep);
  if (at == std::string::npos)
    return {all, ""};
  return {all.substr(0, at), all.substr(at + sep.size())};
}

}  // namespace fuzz
}  // namespace pidtree
