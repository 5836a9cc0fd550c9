// The supervisor's restart bound and the reloader's restart request (the
// fork and exec themselves: tests/runtime/test_config.py RestartOnChange).
#include "pipeline/supervisor.h"
#include "fake_clock.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "config/config_reload.h"
#include "config_text.h"
#include "output/output.h"

namespace pidtree {
namespace {

using std::chrono::seconds;

TEST(RestartBudget, FiveInTenMinutesThenRefusedUntilTheOldestAgesOut) {
  RestartBudget budget;
  auto t0 = std::chrono::steady_clock::time_point() + seconds(1000);
  for (int i = 0; i < kMaxRestarts; ++i)
    EXPECT_TRUE(budget.allow(t0 + seconds(i))) << i;
  EXPECT_FALSE(budget.allow(t0 + seconds(10)));
  EXPECT_FALSE(budget.allow(t0 + kRestartWindow - seconds(1)));
  EXPECT_TRUE(budget.allow(t0 + kRestartWindow));  // the first aged out
  EXPECT_FALSE(budget.allow(t0 + kRestartWindow));
}

class NeedsRestart : public Reconfigurable {
 public:
  std::string reconfigure(const FileConfig &, size_t *rules,
                          std::vector<std::string> *) override {
    ++calls;
    *rules = 0;
    return "";
  }
  std::vector<std::string> restart_reasons(
      const FileConfig &file) const override {
    if (file.section("net_listen").present)
      return {"the file adds a net_listen section"};
    return {};
  }
  int calls = 0;
};

struct Reload : ::testing::Test {
  Reload() {
    out = dir.write("out", "");
    write("tcp_connect: {}\n");
    fd = ::open(out.c_str(), O_WRONLY | O_APPEND);
  }
  void write(const std::string &text) { path = dir.write("c.yml", text); }
  pidtree::testing::TempDir dir;
  std::string path, out;
  int fd = -1;
  pidtree::testing::FakeClock clock;
  NeedsRestart target;
};

TEST_F(Reload, UnderASupervisorAChangeThatNeedsARestartAsksForOne) {
  OutputSink s(fd);
  ConfigReloader reloader(path, false, target, s, clock);
  reloader.allow_restart(true);
  write("tcp_connect: {}\nnet_listen: {}\n");
  reloader.request();
  reloader.poll();
  EXPECT_TRUE(reloader.restart_requested());
  EXPECT_EQ(target.calls, 0);  // nothing applied in place
  EXPECT_EQ(reloader.applied() + reloader.refused(), 0u);
  ASSERT_TRUE(s.flush());
  std::ifstream f(out);
  std::string text(std::istreambuf_iterator<char>(f), {});
  EXPECT_NE(text.find(R"("status":"restart","trigger":"SIGHUP")"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"("reason":"the file adds a net_listen section")"),
            std::string::npos)
      << text;
}

TEST_F(Reload, WithoutASupervisorTheSameChangeGoesToReconfigure) {
  OutputSink s(fd);
  ConfigReloader reloader(path, false, target, s, clock);
  write("tcp_connect: {}\nnet_listen: {}\n");
  reloader.request();
  reloader.poll();
  EXPECT_FALSE(reloader.restart_requested());
  EXPECT_EQ(target.calls, 1);  // the real ProbeSet refuses it there
}

}  // namespace
}  // namespace pidtree
