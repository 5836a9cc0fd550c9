// Finding the cgroup v2 root in /proc/self/mountinfo.
#include "kernel/cgroup.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace pidtree {
namespace {

TEST(Cgroup2Root, HybridHostsMountItBesideV1) {
  const char *info =
      "22 27 0:20 / /sys rw,nosuid - sysfs sysfs rw\n"
      "30 22 0:26 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro\n"
      "31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 "
      "cgroup2 rw,nsdelegate\n"
      "32 30 0:28 / /sys/fs/cgroup/cpu rw shared:11 - cgroup cgroup rw,cpu\n";
  EXPECT_EQ(find_cgroup2_root(info), "/sys/fs/cgroup/unified");
}

TEST(Cgroup2Root, OnlyTheHierarchysRoot) {
  // A bind mount of a sub-cgroup (root field /docker/x) is not the root,
  // nor is a v1 mount; no optional fields and many of them both parse.
  const char *info =
      "40 30 0:27 /docker/abc /mnt/sub rw - cgroup2 cgroup2 rw\n"
      "41 30 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw\n"
      "42 30 0:27 / /mnt/a\\040b rw shared:1 master:2 propagate_from:3 - "
      "cgroup2 none rw\n";
  EXPECT_EQ(find_cgroup2_root(info), "/mnt/a b");
}

TEST(Cgroup2Root, NoneAndJunk) {
  EXPECT_EQ(find_cgroup2_root(""), "");
  EXPECT_EQ(find_cgroup2_root("1 2 3\n- cgroup2\n\n"
                              "x x x / /y - \n"
                              "4 5 0:1 / /z rw - cgroup2\n"),
            "/z");
  EXPECT_EQ(find_cgroup2_root("garbage\n - - - - - - -\n"), "");
}

TEST(Cgroup2Root, OpensThisHostsRoot) {
  if (geteuid() != 0)
    GTEST_SKIP() << "needs root to mount cgroup2 where none is mounted";
  std::string where, why;
  int fd = open_cgroup2_root(&where, &why);
  ASSERT_GE(fd, 0) << why;
  EXPECT_FALSE(where.empty());
  close(fd);
}

}  // namespace
}  // namespace pidtree
