// Which mappings may be dropped after the compile, from smaps text, and that
// dropping one really gives its pages back without changing what it reads.
#include "kernel/memory.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace pidtree {
namespace {

std::string entry(const std::string &header, int anon_kb) {
  return header + "\nSize:               8 kB\nRss:                8 kB\n" +
         "Anonymous:          " + std::to_string(anon_kb) +
         " kB\nVmFlags: rd ex mr mw me\n";
}

TEST(DroppableMappings, OnlyUnwritableCompilerFilesWithoutCopiedPages) {
  std::string smaps =
      entry(
          "7f0000000000-7f0000002000 r-xp 00000000 08:01 11 "
          "/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1",
          0) +
      // RELRO: read-only now, but relocated (copied) pages: never.
      entry(
          "7f0000002000-7f0000004000 r--p 00002000 08:01 11 "
          "/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1",
          8) +
      entry(
          "7f0000004000-7f0000006000 rw-p 00004000 08:01 11 "
          "/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1",
          0) +
      entry(
          "7f0000006000-7f0000008000 r-xp 00000000 08:01 12 "
          "/usr/lib/llvm-14/lib/libclang-cpp.so.14",
          0) +
      entry(
          "7f0000008000-7f000000a000 r-xp 00000000 08:01 13 "
          "/usr/lib/x86_64-linux-gnu/libc.so.6",
          0) +
      entry("7f000000a000-7f000000c000 r--p 00000000 00:00 0 ", 0) +
      entry("55d000000000-55d000002000 rw-p 00000000 00:00 0 [heap]", 0) +
      entry(
          "7f000000c000-7f000000e000 r-xp 00000000 08:01 14 "
          "/tmp/dir with spaces/libLLVM-x.so (deleted)",
          0);
  auto got = droppable_mappings(smaps, kCompilerLibraries);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].start, 0x7f0000000000u);
  EXPECT_EQ(got[0].end, 0x7f0000002000u);
  EXPECT_EQ(got[1].path, "/usr/lib/llvm-14/lib/libclang-cpp.so.14");
  EXPECT_EQ(got[2].path, "/tmp/dir with spaces/libLLVM-x.so (deleted)");
}

TEST(DroppableMappings, DoubtMeansKeep) {
  const std::string header =
      "7f0000000000-7f0000002000 r-xp 00000000 08:01 11 /lib/libLLVM.so";
  // No Anonymous line, an unreadable one, and malformed headers.
  EXPECT_TRUE(
      droppable_mappings(header + "\nRss: 8 kB\n", {"libLLVM"}).empty());
  EXPECT_TRUE(
      droppable_mappings(header + "\nAnonymous: lots\n", {"libLLVM"}).empty());
  for (const char *bad :
       {"7f0000002000-7f0000000000 r-xp 0 08:01 11 /lib/libLLVM.so",
        "-7f0000002000 r-xp 0 08:01 11 /lib/libLLVM.so",
        "zz-7f0000002000 r-xp 0 08:01 11 /lib/libLLVM.so",
        "7f0000000000-7f0000002000 r-x 0 08:01 11 /lib/libLLVM.so",
        "7f0000000000-7f0000002000 r-xp /lib/libLLVM.so", "", "garbage"})
    EXPECT_TRUE(droppable_mappings(std::string(bad) + "\nAnonymous: 0 kB\n",
                                   {"libLLVM"})
                    .empty())
        << bad;
  EXPECT_TRUE(droppable_mappings("", {"libLLVM"}).empty());
}

// Rss of the mapping that starts at `start`, from our own smaps.
long rss_kb_at(uintptr_t start) {
  std::ifstream f("/proc/self/smaps");
  std::string line;
  bool in = false;
  while (std::getline(f, line)) {
    if (line.find('-') != std::string::npos &&
        line.find(' ') > line.find('-') && isxdigit(line[0]))
      in = std::stoull(line.substr(0, line.find('-')), nullptr, 16) == start;
    else if (in && line.rfind("Rss:", 0) == 0)
      return std::stol(line.substr(4));
  }
  return -1;
}

TEST(DroppableMappings, DroppingARealMappingFreesItsPagesAndKeepsItsContent) {
  char path[] = "/tmp/pidtree-memtest-libLLVM-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const size_t size = 64 * 4096;
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i)
    data[i] = static_cast<char>(i * 31 % 251);
  ASSERT_EQ(write(fd, data.data(), size), static_cast<ssize_t>(size));
  void *p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  unlink(path);
  ASSERT_NE(p, MAP_FAILED);
  const char *bytes = static_cast<const char *>(p);
  long sum = 0;
  for (size_t i = 0; i < size; i += 4096)
    sum += bytes[i];
  auto start = reinterpret_cast<uintptr_t>(p);
  EXPECT_GE(rss_kb_at(start), 256);

  std::ifstream f("/proc/self/smaps");
  std::stringstream text;
  text << f.rdbuf();
  auto found = droppable_mappings(text.str(), {"pidtree-memtest-libLLVM"});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].start, start);
  ASSERT_EQ(madvise(p, found[0].end - found[0].start, MADV_DONTNEED), 0);
  EXPECT_EQ(rss_kb_at(start), 0);
  EXPECT_EQ(std::string(bytes, size), data);
  EXPECT_NE(sum, 0);
  munmap(p, size);
}

}  // namespace
}  // namespace pidtree
