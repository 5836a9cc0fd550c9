// A hostile /sys/kernel/btf/vmlinux: the offsets the BPF programs read
// kernel memory at come from it, so every lookup must either give an
// offset or say why not, whatever the file holds.
#include <bpf/libbpf.h>

#include <string>

#include "fuzz_util.h"
#include "kernel/btf.h"

// libbpf's own warnings about each malformed file: noise here.
extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  libbpf_set_print(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace pidtree;
  static const std::string path = fuzz::scratch_dir() + "/vmlinux";
  fuzz::write_file(path, data, size);
  KernelBtf btf(path);
  std::string why;
  if (!btf.argv_offsets(&why))
    FUZZ_CHECK(!why.empty(), "argv_offsets: no reason");
  why.clear();
  if (!btf.sock_offsets(&why))
    FUZZ_CHECK(!why.empty(), "sock_offsets: no reason");
  why.clear();
  if (!btf.socket_offsets(&why))
    FUZZ_CHECK(!why.empty(), "socket_offsets: no reason");
  why.clear();
  if (!btf.loginuid_offset(&why))
    FUZZ_CHECK(!why.empty(), "loginuid_offset: no reason");
  return 0;
}
