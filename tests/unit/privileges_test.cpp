#include "kernel/privileges.h"

#include <gtest/gtest.h>

#include <vector>

namespace pidtree {
namespace {

TEST(Privileges, KeepsBpfPtraceAndReadSearchWhereTheKernelHasCapBpf) {
  EXPECT_EQ(kept_capabilities(40),
            (std::vector<int>{kCapDacReadSearch, kCapSysPtrace, kCapBpf}));
  EXPECT_EQ(kept_capabilities(39),
            (std::vector<int>{kCapDacReadSearch, kCapSysPtrace, kCapBpf}));
}

TEST(Privileges, SysAdminStandsForBpfOnOlderKernels) {
  EXPECT_EQ(kept_capabilities(38),
            (std::vector<int>{kCapDacReadSearch, kCapSysPtrace, kCapSysAdmin}));
}

TEST(Privileges, Mask) {
  EXPECT_EQ(capability_mask({}), 0u);
  EXPECT_EQ(capability_mask({2, 19, 39}),
            (1ull << 2) | (1ull << 19) | (1ull << 39));
  EXPECT_EQ(capability_mask({-1, 64, 70}), 0u);
}

}  // namespace
}  // namespace pidtree
