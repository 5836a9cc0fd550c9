// Kernel struct offsets from BTF: small BTF files are built here with
// libbpf (task_struct and mm_struct, arg_start inside an anonymous struct,
// and sock with its sock_common unions, as in Linux 6.x), then read back.
#include "kernel/btf.h"

#include <bpf/btf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
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
  auto o = KernelBtf(path).argv_offsets(&why);
  ASSERT_TRUE(o) << why;
  EXPECT_EQ(o->task_mm, 1136u);
  EXPECT_EQ(o->mm_arg_start, 64u + 32u);
  EXPECT_EQ(o->mm_arg_end, 64u + 40u);
  unlink(path.c_str());
}

TEST(ArgvOffsets, NamedInnerStructIsNotSearched) {
  std::string path = btf_file([](btf *b) { kernel_like(b, false); });
  std::string why;
  EXPECT_FALSE(KernelBtf(path).argv_offsets(&why));
  EXPECT_EQ(why, "struct mm_struct has no field arg_start in the kernel's BTF");
  unlink(path.c_str());
}

TEST(ArgvOffsets, BitFieldIsRefused) {
  std::string path = btf_file([](btf *b) { kernel_like(b, true, 8); });
  std::string why;
  EXPECT_FALSE(KernelBtf(path).argv_offsets(&why));
  EXPECT_EQ(
      why,
      "mm_struct.arg_end is not an aligned 8-byte field in the kernel's BTF");
  unlink(path.c_str());
}

TEST(ArgvOffsets, MissingStruct) {
  std::string path = btf_file([](btf *b) {
    int ulong = btf__add_int(b, "long unsigned int", 8, 0);
    btf__add_struct(b, "mm_struct", 8);
    btf__add_field(b, "arg_start", ulong, 0, 0);
  });
  std::string why;
  EXPECT_FALSE(KernelBtf(path).argv_offsets(&why));
  EXPECT_EQ(why, "the kernel's BTF has no struct task_struct");
  unlink(path.c_str());
}

TEST(KernelBtf, UnreadableOrNotBtf) {
  std::string why;
  EXPECT_FALSE(KernelBtf("/nonexistent/vmlinux").argv_offsets(&why));
  EXPECT_EQ(why.rfind("cannot read /nonexistent/vmlinux: ", 0), 0u) << why;
  for (const char *content : {"not BTF at all\n", ""}) {
    char path[] = "/tmp/pidtree-btf-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    ssize_t n = static_cast<ssize_t>(std::strlen(content));
    ASSERT_EQ(write(fd, content, static_cast<size_t>(n)), n);
    close(fd);
    KernelBtf b(path);
    EXPECT_FALSE(b.argv_offsets(&why));
    EXPECT_EQ(why, std::string(path) + " is not a valid BTF file");
    EXPECT_FALSE(b.sock_offsets(&why));
    EXPECT_EQ(why, std::string(path) + " is not a valid BTF file");
    unlink(path);
  }
}

// struct sock_common as in Linux 6.x: the addresses and ports in anonymous
// structs inside anonymous unions; struct sock starts with it. Old kernels
// (before 5.6) had sk_protocol as an 8-bit bit field; without CONFIG_IPV6
// there are no skc_v6_* fields.
void sock_like(btf *b, bool protocol_bitfield = false, bool ipv6 = true) {
  int u16 = btf__add_int(b, "short unsigned int", 2, 0);
  int u32 = btf__add_int(b, "unsigned int", 4, 0);
  int u64 = btf__add_int(b, "long long unsigned int", 8, 0);
  int in6 = btf__add_struct(b, "in6_addr", 16);
  btf__add_field(b, "s6_addr32", u64, 0, 0);  // (the real one is a union)
  int be32 = btf__add_typedef(b, "__be32", u32);
  int be16 = btf__add_typedef(b, "__be16", u16);
  int addrs = btf__add_struct(b, "", 8);
  btf__add_field(b, "skc_daddr", be32, 0, 0);
  btf__add_field(b, "skc_rcv_saddr", be32, 32, 0);
  int addr_union = btf__add_union(b, "", 8);
  btf__add_field(b, "skc_addrpair", u64, 0, 0);
  btf__add_field(b, "", addrs, 0, 0);
  int ports = btf__add_struct(b, "", 4);
  btf__add_field(b, "skc_dport", be16, 0, 0);
  btf__add_field(b, "skc_num", u16, 16, 0);
  int port_union = btf__add_union(b, "", 4);
  btf__add_field(b, "skc_portpair", u32, 0, 0);
  btf__add_field(b, "", ports, 0, 0);
  int common = btf__add_struct(b, "sock_common", 136);
  btf__add_field(b, "", addr_union, 0, 0);
  btf__add_field(b, "skc_hash", u32, 64, 0);
  btf__add_field(b, "", port_union, 96, 0);
  btf__add_field(b, "skc_family", u16, 128, 0);
  if (ipv6) {
    btf__add_field(b, "skc_v6_daddr", in6, 56 * 8, 0);
    btf__add_field(b, "skc_v6_rcv_saddr", in6, 72 * 8, 0);
  }
  btf__add_struct(b, "sock", 768);
  btf__add_field(b, "__sk_common", common, 0, 0);
  if (protocol_bitfield) {
    btf__add_field(b, "sk_userlocks", u32, 520 * 8 + 4, 4);
    btf__add_field(b, "sk_protocol", u32, 520 * 8 + 8, 8);
  } else {
    btf__add_field(b, "sk_protocol", u16, 532 * 8, 0);
  }
}

TEST(SockOffsets, FoundThroughAnonymousUnions) {
  std::string path = btf_file([](btf *b) { sock_like(b); });
  std::string why;
  auto o = KernelBtf(path).sock_offsets(&why);
  ASSERT_TRUE(o) << why;
  EXPECT_EQ(o->daddr, 0u);
  EXPECT_EQ(o->rcv_saddr, 4u);
  EXPECT_EQ(o->dport, 12u);
  EXPECT_EQ(o->num, 14u);
  EXPECT_EQ(o->family, 16u);
  EXPECT_EQ(o->v6_daddr, 56u);
  EXPECT_EQ(o->v6_rcv_saddr, 72u);
  EXPECT_EQ(o->protocol, 532u);
  EXPECT_EQ(o->head, 24u);  // family ends at 18: three whole words
  unlink(path.c_str());
}

TEST(SockOffsets, OldKernelsBitFieldProtocolIsRefused) {
  std::string path = btf_file([](btf *b) { sock_like(b, true); });
  std::string why;
  EXPECT_FALSE(KernelBtf(path).sock_offsets(&why));
  EXPECT_EQ(
      why,
      "sock.sk_protocol is not an aligned 2-byte field in the kernel's BTF");
  unlink(path.c_str());
}

TEST(SockOffsets, KernelWithoutIpv6) {
  std::string path = btf_file([](btf *b) { sock_like(b, false, false); });
  std::string why;
  EXPECT_FALSE(KernelBtf(path).sock_offsets(&why));
  EXPECT_EQ(why,
            "struct sock_common has no field skc_v6_daddr in the kernel's BTF");
  unlink(path.c_str());
}

TEST(KernelBtf, OneParseAnswersBoth) {
  std::string path = btf_file([](btf *b) {
    kernel_like(b);
    sock_like(b);
  });
  KernelBtf parsed(path);
  unlink(path.c_str());  // parsed once: the file is no longer needed
  std::string why;
  EXPECT_TRUE(parsed.argv_offsets(&why)) << why;
  EXPECT_TRUE(parsed.sock_offsets(&why)) << why;
}

}  // namespace
}  // namespace pidtree
