// Kernel struct offsets from BTF: a small BTF file is built here with
// libbpf (the layouts of task_struct and mm_struct, arg_start inside an
// anonymous struct as in Linux 6.x), then read back.
#include "pidtree/btf.h"

#include <bpf/btf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>

namespace pidtree {
namespace {

// Writes a BTF file made by `build` and returns its path.
std::string btf_file(const std::function<void(btf *)> &build) {
  btf *b = btf__new_empty();
  build(b);
  uint32_t size = 0;
  const void *raw = btf__raw_data(b, &size);
  char path[] = "/tmp/pidtree-btf-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, raw, size), static_cast<ssize_t>(size));
  close(fd);
  btf__free(b);
  return path;
}

// struct mm_struct { struct { int pad; unsigned long x; ...; unsigned long
// arg_start, arg_end; } (anonymous, at byte 64); }
// struct task_struct { int state; ...; struct mm_struct *mm; (at 1136) }
void kernel_like(btf *b, bool anonymous = true, int arg_end_bits = 64) {
  int ulong = btf__add_int(b, "long unsigned int", 8, 0);
  int i32 = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
  int inner = btf__add_struct(b, anonymous ? "" : "named", 64);
  btf__add_field(b, "pad", i32, 0, 0);
  btf__add_field(b, "arg_start", ulong, 32 * 8, 0);
  btf__add_field(b, "arg_end", ulong, 40 * 8, arg_end_bits == 64 ? 0 : 8);
  int mm = btf__add_struct(b, "mm_struct", 128);
  btf__add_field(b, "other", ulong, 0, 0);
  btf__add_field(b, anonymous ? "" : "inner", inner, 64 * 8, 0);
  int mm_ptr = btf__add_ptr(b, mm);
  int task = btf__add_struct(b, "task_struct", 2048);
  btf__add_field(b, "state", i32, 0, 0);
  btf__add_field(b, "mm", mm_ptr, 1136 * 8, 0);
  (void)task;
}

TEST(ArgvOffsets, FoundThroughAnonymousMembers) {
  std::string path = btf_file([](btf *b) { kernel_like(b); });
  std::string why;
  auto o = argv_offsets(path, &why);
  ASSERT_TRUE(o) << why;
  EXPECT_EQ(o->task_mm, 1136u);
  EXPECT_EQ(o->mm_arg_start, 64u + 32u);
  EXPECT_EQ(o->mm_arg_end, 64u + 40u);
  unlink(path.c_str());
}

TEST(ArgvOffsets, NamedInnerStructIsNotSearched) {
  std::string path = btf_file([](btf *b) { kernel_like(b, false); });
  std::string why;
  EXPECT_FALSE(argv_offsets(path, &why));
  EXPECT_EQ(why, "struct mm_struct has no field arg_start in the kernel's BTF");
  unlink(path.c_str());
}

TEST(ArgvOffsets, BitFieldIsRefused) {
  std::string path = btf_file([](btf *b) { kernel_like(b, true, 8); });
  std::string why;
  EXPECT_FALSE(argv_offsets(path, &why));
  EXPECT_EQ(why,
            "mm_struct.arg_end is not an 8-byte field in the kernel's BTF");
  unlink(path.c_str());
}

TEST(ArgvOffsets, MissingStruct) {
  std::string path = btf_file([](btf *b) {
    int ulong = btf__add_int(b, "long unsigned int", 8, 0);
    btf__add_struct(b, "mm_struct", 8);
    btf__add_field(b, "arg_start", ulong, 0, 0);
  });
  std::string why;
  EXPECT_FALSE(argv_offsets(path, &why));
  EXPECT_EQ(why, "the kernel's BTF has no struct task_struct");
  unlink(path.c_str());
}

TEST(ArgvOffsets, UnreadableOrNotBtf) {
  std::string why;
  EXPECT_FALSE(argv_offsets("/nonexistent/vmlinux", &why));
  EXPECT_EQ(why.rfind("cannot read /nonexistent/vmlinux: ", 0), 0u) << why;
  char path[] = "/tmp/pidtree-btf-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "not BTF at all\n", 15), 15);
  close(fd);
  EXPECT_FALSE(argv_offsets(path, &why));
  EXPECT_EQ(why.rfind(std::string("cannot read ") + path, 0), 0u) << why;
  unlink(path);
}

}  // namespace
}  // namespace pidtree
