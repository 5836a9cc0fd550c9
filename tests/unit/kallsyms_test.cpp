// Picking BCC's symbols out of kallsyms text, and running a function on a
// thread of its own. (That the thread's /proc/kallsyms is the short one is a
// runtime test: it needs root.)
#include "kernel/kallsyms.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <string>

namespace pidtree {
namespace {

const std::vector<std::string> kNames = {"bpf_probe_read_kernel",
                                         "bpf_probe_read_user"};

const char kText[] =
    "ffffffff81000000 T _stext\n"
    "ffffffff814cb760 T bpf_probe_read_kernel\n"
    "ffffffff814cb7a0 t bpf_probe_read_kernel_str\n"
    "ffffffff814ce250 T bpf_probe_read_user\n"
    "ffffffffc0001000 t helper\t[some_module]\n";

std::string pick(const std::string &text, size_t chunk) {
  KsymLinePicker picker(kNames);
  for (size_t i = 0; i < text.size(); i += chunk)
    picker.feed(std::string_view(text).substr(i, chunk));
  picker.finish();
  return picker.lines();
}

TEST(KsymLinePicker, KeepsExactlyTheNamedLinesWhateverTheChunks) {
  const std::string want =
      "ffffffff814cb760 T bpf_probe_read_kernel\n"
      "ffffffff814ce250 T bpf_probe_read_user\n";
  for (size_t chunk : {1, 2, 7, 40, 41, 4096})
    EXPECT_EQ(pick(kText, chunk), want) << "chunk " << chunk;
}

TEST(KsymLinePicker, FoundOnlyOnceEveryNameIsOnALineBccTakes) {
  KsymLinePicker picker(kNames);
  // A data symbol and a hidden address (kptr_restrict): BCC skips both, so
  // the scan must go on to a line it takes.
  picker.feed(
      "ffffffff82000000 D bpf_probe_read_kernel\n"
      "0000000000000000 T bpf_probe_read_user\n");
  EXPECT_FALSE(picker.all_found());
  picker.feed("ffffffff814cb760 T bpf_probe_read_kernel\n");
  EXPECT_FALSE(picker.all_found());
  picker.feed("ffffffff814ce250 t bpf_probe_read_user\n");
  EXPECT_TRUE(picker.all_found());
  // Every matching line is passed on; BCC applies its own rules to them.
  EXPECT_EQ(picker.lines(),
            "ffffffff82000000 D bpf_probe_read_kernel\n"
            "0000000000000000 T bpf_probe_read_user\n"
            "ffffffff814cb760 T bpf_probe_read_kernel\n"
            "ffffffff814ce250 t bpf_probe_read_user\n");
}

TEST(KsymLinePicker, LastLineWithoutNewline) {
  KsymLinePicker picker(kNames);
  picker.feed("ffffffff814ce250 T bpf_probe_read_user");
  EXPECT_EQ(picker.lines(), "");
  picker.finish();
  EXPECT_EQ(picker.lines(), "ffffffff814ce250 T bpf_probe_read_user\n");
}

TEST(KsymLinePicker, MalformedAndOverlongLinesAreSkipped) {
  std::string huge = "ffffffff814cb760 T bpf_probe_read_kernel" +
                     std::string(10000, 'x') + "\n";
  std::string text =
      "bpf_probe_read_kernel\n"                           // no address
      "xyz T bpf_probe_read_kernel\n"                     // not hex
      "ffffffff814cb760 bpf_probe_read_kernel\n"          // no type
      "ffffffff814cb760  T bpf_probe_read_kernel\n"       // misaligned
      "ffffffff814cb760ffff T bpf_probe_read_kernel\n" +  // 20 digits
      huge +
      "ffffffff814cb760 T bpf_probe_read_kernel_x\n"  // another name
      "ffffffff814cb760 T \n"                         // no name
      "\n\n" +
      std::string("\0\xff\n", 3) +
      // Still in step after all that:
      "ffffffff814ce250 T bpf_probe_read_user\n";
  for (size_t chunk : {1, 3, 64, 1 << 16}) {
    KsymLinePicker picker(kNames);
    for (size_t i = 0; i < text.size(); i += chunk)
      picker.feed(std::string_view(text).substr(i, chunk));
    picker.finish();
    EXPECT_EQ(picker.lines(), "ffffffff814ce250 T bpf_probe_read_user\n")
        << "chunk " << chunk;
    EXPECT_FALSE(picker.all_found());
  }
}

TEST(KsymLinePicker, ModuleSymbolsByName) {
  KsymLinePicker picker({"helper"});
  picker.feed(kText);
  EXPECT_EQ(picker.lines(), "ffffffffc0001000 t helper\t[some_module]\n");
  EXPECT_TRUE(picker.all_found());
}

std::string write_temp(const std::string &text) {
  char path[] = "/tmp/pidtree-kallsyms-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, text.data(), text.size()),
            static_cast<ssize_t>(text.size()));
  close(fd);
  return path;
}

TEST(ReadKsymLines, ReadsAFileAndSaysWhenItCannot) {
  std::string path = write_temp(kText);
  std::string lines = "stale";
  EXPECT_TRUE(read_ksym_lines(path, kNames, &lines));
  EXPECT_EQ(lines,
            "ffffffff814cb760 T bpf_probe_read_kernel\n"
            "ffffffff814ce250 T bpf_probe_read_user\n");
  unlink(path.c_str());
  EXPECT_FALSE(read_ksym_lines(path, kNames, &lines));
  // A directory opens but does not read.
  EXPECT_FALSE(read_ksym_lines("/", kNames, &lines));
}

TEST(ReadKsymLines, LargeFileWithTheNamesAtTheEnd) {
  std::string text;
  for (int i = 0; i < 200000; ++i)
    text += "ffffffff81000000 t sym_" + std::to_string(i) + "\n";
  text += kText;
  std::string path = write_temp(text);
  std::string lines;
  EXPECT_TRUE(read_ksym_lines(path, kNames, &lines));
  EXPECT_EQ(lines,
            "ffffffff814cb760 T bpf_probe_read_kernel\n"
            "ffffffff814ce250 T bpf_probe_read_user\n");
  unlink(path.c_str());
}

TEST(RunWithKallsyms, RunsOnceOnAnotherThreadAndLeavesThisOneAlone) {
  std::ifstream before("/proc/self/mountinfo");
  std::string mounts_before((std::istreambuf_iterator<char>(before)), {});
  long caller = syscall(SYS_gettid);
  long ran_on = 0;
  int runs = 0;
  char cwd_before[4096], cwd_inside[4096] = "";
  ASSERT_NE(getcwd(cwd_before, sizeof(cwd_before)), nullptr);
  run_with_kallsyms(kText, [&] {
    ++runs;
    ran_on = syscall(SYS_gettid);
    if (getcwd(cwd_inside, sizeof(cwd_inside)) == nullptr)
      cwd_inside[0] = '\0';
  });
  EXPECT_EQ(runs, 1);
  EXPECT_NE(ran_on, caller);
  // Whatever the privileges: the thread works where the process does.
  EXPECT_STREQ(cwd_inside, cwd_before);
  std::ifstream after("/proc/self/mountinfo");
  std::string mounts_after((std::istreambuf_iterator<char>(after)), {});
  EXPECT_EQ(mounts_after, mounts_before);
}

TEST(RunWithKallsyms, AnExceptionReachesTheCaller) {
  EXPECT_THROW(
      run_with_kallsyms("", [] { throw std::runtime_error("compile"); }),
      std::runtime_error);
}

}  // namespace
}  // namespace pidtree
