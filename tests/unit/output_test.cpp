// JSON lines (one per event, no matter what processes put in their names)
// and the line sink (pipes, files, a reader that went away).
#include "output/output.h"

#include "output/json.h"
#include "probes/tcp_connect/connect_event.h"

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace pidtree {
namespace {

using nlohmann::json;

ConnectEvent sample_event() {
  ConnectEvent ev;
  ev.ts_boot_ns = 5;
  ev.pid = 900;
  ev.tid = 901;
  ev.uid = 1000;
  ev.family = Family::kIpv4;
  ev.saddr = parse_ip("192.168.1.10");
  ev.daddr = parse_ip("93.184.216.34");
  ev.sport = 51234;
  ev.dport = 443;
  ev.comm = "curl";
  return ev;
}

Ancestry sample_ancestry() {
  Ancestry a;
  a.tree.push_back(ProcNode{900, "curl https://example.com", "alice"});
  a.tree.push_back(ProcNode{700, "-bash", "alice"});
  a.tree.push_back(ProcNode{1, "/sbin/init", "root"});
  return a;
}

size_t count_newlines(const std::string &s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

// The line must be one line, newline-terminated, and parse as an object.
json parse_line(const std::string &line) {
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(count_newlines(line), 1u) << line.substr(0, 300);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  json j = json::parse(line);  // throws (and fails the test) if invalid
  EXPECT_TRUE(j.is_object());
  return j;
}

TEST(JsonFormatter, ConnectEventHasEveryField) {
  std::string line = event_line(sample_event(), sample_ancestry(), "alice",
                                "2023-11-14T22:13:20.123456Z");
  json j = parse_line(line);
  EXPECT_EQ(j.size(), 14u) << j.dump();
  EXPECT_EQ(j["timestamp"], "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(j["probe"], "tcp_connect");
  EXPECT_EQ(j["pid"], 900);
  EXPECT_EQ(j["tid"], 901);
  EXPECT_EQ(j["comm"], "curl");
  EXPECT_EQ(j["uid"], 1000);
  EXPECT_EQ(j["username"], "alice");
  EXPECT_EQ(j["family"], "ipv4");
  EXPECT_EQ(j["saddr"], "192.168.1.10");
  EXPECT_EQ(j["sport"], 51234);
  EXPECT_EQ(j["daddr"], "93.184.216.34");
  EXPECT_EQ(j["port"], 443);
  EXPECT_EQ(j["error"], "");
  ASSERT_TRUE(j["proctree"].is_array());
  ASSERT_EQ(j["proctree"].size(), 3u);
  EXPECT_EQ(j["proctree"][0], (json{{"pid", 900},
                                    {"cmdline", "curl https://example.com"},
                                    {"username", "alice"}}));
  EXPECT_EQ(j["proctree"][1]["pid"], 700);
  EXPECT_EQ(j["proctree"][1]["cmdline"], "-bash");
  EXPECT_EQ(j["proctree"][2]["pid"], 1);
  EXPECT_EQ(j["proctree"][2]["username"], "root");
  // Numbers are numbers, not strings.
  EXPECT_TRUE(j["pid"].is_number_unsigned());
  EXPECT_TRUE(j["port"].is_number_unsigned());
}

TEST(JsonFormatter, FieldOrderIsStable) {
  std::string line =
      event_line(sample_event(), sample_ancestry(), "alice", "T");
  std::vector<std::string> keys = {
      "\"timestamp\"", "\"probe\"",    "\"pid\"",      "\"tid\"",   "\"comm\"",
      "\"uid\"",       "\"username\"", "\"family\"",   "\"saddr\"", "\"sport\"",
      "\"daddr\"",     "\"port\"",     "\"proctree\"", "\"error\""};
  size_t pos = 0;
  for (const auto &k : keys) {
    size_t at = line.find(k, pos);
    ASSERT_NE(at, std::string::npos) << k << " after " << pos << ": " << line;
    pos = at + k.size();
  }
}

TEST(JsonFormatter, Ipv6AndErrorAndEmptyTree) {
  ConnectEvent ev = sample_event();
  ev.family = Family::kIpv6;
  ev.saddr = parse_ip("2001:db8::10");
  ev.daddr = parse_ip("2001:db8:0:0:1:0:0:1");
  ev.sport = 0;
  Ancestry a;
  a.error = "the event's process 900 exited before its ancestry was read";
  json j = parse_line(event_line(ev, a, "1000", "T"));
  EXPECT_EQ(j["family"], "ipv6");
  EXPECT_EQ(j["saddr"], "2001:db8::10");
  EXPECT_EQ(j["daddr"], "2001:db8::1:0:0:1");
  EXPECT_EQ(j["sport"], 0);
  EXPECT_EQ(j["username"], "1000");
  EXPECT_TRUE(j["proctree"].is_array());
  EXPECT_TRUE(j["proctree"].empty());
  EXPECT_EQ(j["error"], a.error);
}

TEST(JsonFormatter, HostileStringsStayOnOneLine) {
  const std::string forged =
      "\"}\n{\"probe\":\"tcp_connect\",\"pid\":1,\"comm\":\"forged\"}\n";
  const std::string controls =
      std::string("a\nb\rc\td\"e\\f\x01g\x1fh\x7fi") + '\0' + "j\u2028k";
  const std::string big(100 * 1024, 'A');
  ConnectEvent ev = sample_event();
  ev.comm = "x\"\n\\\x01";
  Ancestry a;
  a.tree.push_back(ProcNode{900, forged, "alice"});
  a.tree.push_back(ProcNode{899, controls, "bob\nroot"});
  a.tree.push_back(ProcNode{898, "python3 -c " + big, "carol"});
  a.error = "x\ny";

  std::string line = event_line(ev, a, "u\"\n", "T");
  json j = parse_line(line);
  EXPECT_GT(line.size(), big.size());
  // No raw control byte anywhere but the final newline.
  for (size_t i = 0; i + 1 < line.size(); ++i)
    ASSERT_GE(static_cast<unsigned char>(line[i]), 0x20u) << "at " << i;
  // Valid UTF-8 strings come back byte for byte.
  EXPECT_EQ(j["comm"], "x\"\n\\\x01");
  EXPECT_EQ(j["username"], "u\"\n");
  EXPECT_EQ(j["error"], "x\ny");
  ASSERT_EQ(j["proctree"].size(), 3u);
  EXPECT_EQ(j["proctree"][0]["cmdline"], forged);
  EXPECT_EQ(j["proctree"][1]["cmdline"], controls);
  EXPECT_EQ(j["proctree"][1]["username"], "bob\nroot");
  EXPECT_EQ(j["proctree"][2]["cmdline"], "python3 -c " + big);
  // The forged text is a string, not a second object.
  EXPECT_EQ(j["pid"], 900);
  EXPECT_EQ(j["comm"].get<std::string>().find("forged"), std::string::npos);
}

TEST(JsonFormatter, InvalidUtf8IsReplacedNotFatal) {
  ConnectEvent ev = sample_event();
  ev.comm =
      "ab\xff"
      "cd";
  Ancestry a;
  a.tree.push_back(ProcNode{900, "sh -c \xc3\x28 \xed\xa0\x80 ok", "al\xfe"});
  a.tree.push_back(ProcNode{1, "init \xe2\x82\xac", "root"});  // valid euro
  std::string line;
  ASSERT_NO_THROW(line = event_line(ev, a, "\x80", "T"));
  json j = parse_line(line);
  const std::string fffd = "\xef\xbf\xbd";
  EXPECT_EQ(j["comm"], "ab" + fffd + "cd");
  EXPECT_EQ(j["username"], fffd);
  std::string cmd = j["proctree"][0]["cmdline"];
  EXPECT_EQ(cmd.rfind("sh -c ", 0), 0u) << cmd;
  EXPECT_NE(cmd.find(fffd), std::string::npos) << cmd;
  EXPECT_NE(cmd.find(" ok"), std::string::npos) << cmd;
  EXPECT_EQ(cmd.find('\xff'), std::string::npos);
  EXPECT_EQ(j["proctree"][0]["username"], "al" + fffd);
  EXPECT_EQ(j["proctree"][1]["cmdline"], "init \xe2\x82\xac");
}

TEST(JsonFormatter, HostileCommFromEveryByte) {
  // Every single byte value as comm and cmdline: always one parsable line.
  for (int b = 0; b < 256; ++b) {
    ConnectEvent ev = sample_event();
    ev.comm = std::string(1, static_cast<char>(b)) + "z";
    Ancestry a;
    a.tree.push_back(ProcNode{1, ev.comm + "\n" + ev.comm, "root"});
    std::string line = event_line(ev, a, "root", "T");
    ASSERT_EQ(count_newlines(line), 1u) << b;
    json j;
    ASSERT_NO_THROW(j = json::parse(line)) << b;
    if (b < 0x80) {
      EXPECT_EQ(j["comm"], ev.comm) << b;
    }
  }
}

TEST(JsonFormatter, LostEvents) {
  std::string line =
      JsonFormatter().lost_events(7, 19, "2023-11-14T22:13:20.000000Z");
  json j = parse_line(line);
  EXPECT_EQ(j.size(), 4u);
  EXPECT_EQ(j["type"], "lost_events");
  EXPECT_EQ(j["count"], 7);
  EXPECT_EQ(j["total"], 19);
  EXPECT_EQ(j["timestamp"], "2023-11-14T22:13:20.000000Z");
  EXPECT_FALSE(j.contains("probe"));

  json big = parse_line(JsonFormatter().lost_events(
      UINT64_MAX, UINT64_MAX, "2023-11-14T22:13:20.000000Z"));
  EXPECT_EQ(big["count"].get<uint64_t>(), UINT64_MAX);
}

// ---- OutputSink -------------------------------------------------------------

class Pipe {
 public:
  Pipe() {
    if (::pipe2(fds_, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe2 failed");
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  int read_fd() const { return fds_[0]; }
  int write_fd() const { return fds_[1]; }
  void close_read() {
    if (fds_[0] >= 0)
      ::close(fds_[0]);
    fds_[0] = -1;
  }
  void close_write() {
    if (fds_[1] >= 0)
      ::close(fds_[1]);
    fds_[1] = -1;
  }
  std::string read_all() {
    close_write();
    return drain();
  }
  // Reads until every writer has closed; leaves the write end alone.
  std::string drain() const {
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fds_[0], buf, sizeof(buf))) > 0)
      out.append(buf, static_cast<size_t>(n));
    return out;
  }

 private:
  int fds_[2] = {-1, -1};
};

class OutputSinkTest : public ::testing::Test {
 protected:
  void SetUp() override { old_ = ::signal(SIGPIPE, SIG_IGN); }
  void TearDown() override { ::signal(SIGPIPE, old_); }

 private:
  sighandler_t old_ = SIG_DFL;
};

TEST_F(OutputSinkTest, WritesLinesToAPipe) {
  Pipe p;
  OutputSink sink(p.write_fd());
  sink.add_line("{\"a\":1}\n");
  sink.add_line("{\"b\":2}\n");
  EXPECT_TRUE(sink.flush());
  EXPECT_FALSE(sink.failed());
  EXPECT_EQ(sink.error(), 0);
  EXPECT_FALSE(sink.reader_gone());
  // Flushing again writes nothing twice.
  EXPECT_TRUE(sink.flush());
  EXPECT_EQ(p.read_all(), "{\"a\":1}\n{\"b\":2}\n");
}

TEST_F(OutputSinkTest, NothingIsWrittenBeforeFlush) {
  Pipe p;
  ASSERT_EQ(::fcntl(p.read_fd(), F_SETFL, O_NONBLOCK), 0);
  OutputSink sink(p.write_fd());
  sink.add_line("line\n");
  char c;
  EXPECT_EQ(::read(p.read_fd(), &c, 1), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_TRUE(sink.flush());
  EXPECT_EQ(::read(p.read_fd(), &c, 1), 1);
  EXPECT_EQ(c, 'l');
}

TEST_F(OutputSinkTest, LargeBufferLargerThanThePipe) {
  Pipe p;
  std::string got;
  std::thread reader([&] { got = p.drain(); });
  OutputSink sink(p.write_fd());
  std::string expect;
  for (int i = 0; i < 20000; ++i) {
    std::string line = "{\"n\":" + std::to_string(i) + ",\"pad\":\"" +
                       std::string(100, 'x') + "\"}\n";
    sink.add_line(line);
    expect += line;
  }
  bool ok = sink.flush();
  p.close_write();
  reader.join();
  EXPECT_TRUE(ok);
  EXPECT_EQ(got.size(), expect.size());
  EXPECT_TRUE(got == expect);
}

TEST_F(OutputSinkTest, ReaderGoneIsDetectedAndSticky) {
  Pipe p;
  OutputSink sink(p.write_fd());
  sink.add_line("first\n");
  EXPECT_TRUE(sink.flush());
  EXPECT_FALSE(sink.reader_gone());

  p.close_read();
  EXPECT_TRUE(sink.reader_gone());
  sink.add_line("second\n");
  EXPECT_FALSE(sink.flush());
  EXPECT_TRUE(sink.failed());
  EXPECT_EQ(sink.error(), EPIPE);
  // Sticky: later flushes fail too, even with nothing new to write.
  EXPECT_FALSE(sink.flush());
  sink.add_line("third\n");
  EXPECT_FALSE(sink.flush());
  EXPECT_EQ(sink.error(), EPIPE);
}

TEST_F(OutputSinkTest, RegularFileNeverReportsReaderGone) {
  char path[] = "/tmp/pidtree-output-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::unlink(path);
  OutputSink sink(fd);
  EXPECT_FALSE(sink.reader_gone());
  sink.add_line("{\"x\":1}\n");
  EXPECT_TRUE(sink.flush());
  EXPECT_FALSE(sink.reader_gone());
  EXPECT_FALSE(sink.failed());
  char buf[16] = {};
  EXPECT_EQ(::pread(fd, buf, sizeof(buf), 0), 8);
  EXPECT_STREQ(buf, "{\"x\":1}\n");
  ::close(fd);
}

TEST_F(OutputSinkTest, WriteErrorOnBadFd) {
  // A read-only fd: write fails with EBADF, reported and sticky.
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  OutputSink sink(fd);
  sink.add_line("x\n");
  EXPECT_FALSE(sink.flush());
  EXPECT_EQ(sink.error(), EBADF);
  EXPECT_TRUE(sink.failed());
  ::close(fd);
}

}  // namespace
}  // namespace pidtree

namespace pidtree {
namespace {

TEST_F(OutputSinkTest, NonBlockingOutputWaitsInsteadOfFailing) {
  Pipe p;
  ASSERT_EQ(::fcntl(p.write_fd(), F_SETFL, O_NONBLOCK), 0);
  OutputSink sink(p.write_fd());
  std::string line(1000, 'x');
  line += "\n";
  for (int i = 0; i < 300; ++i)  // 300 kB: more than the pipe holds
    sink.add_line(line);
  std::string got;
  std::thread reader([&] {
    usleep(100000);  // let the writer hit EAGAIN first
    got = p.drain();
  });
  EXPECT_TRUE(sink.flush());
  p.close_write();
  reader.join();
  EXPECT_EQ(got.size(), 300u * 1001u);
}

}  // namespace
}  // namespace pidtree

namespace pidtree {
namespace {

std::string collapse_fffd(std::string s) {
  const std::string fffd = "\xef\xbf\xbd";
  for (size_t at; (at = s.find(fffd + fffd)) != std::string::npos;)
    s.erase(at, fffd.size());
  return s;
}

// The hand-written escaper against nlohmann::json's own, on random bytes:
// both must parse back to the same text (invalid UTF-8 as U+FFFD).
TEST(AppendJsonString, AgreesWithNlohmannOnRandomBytes) {
  std::mt19937 rng(11);
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    size_t len = rng() % 40;
    for (size_t j = 0; j < len; ++j) {
      unsigned r = rng() % 10;
      // Mostly ASCII, some control bytes, some UTF-8 lead/continuation.
      text.push_back(static_cast<char>(r < 5   ? 0x20 + rng() % 0x60
                                       : r < 7 ? rng() % 0x20
                                               : 0x80 + rng() % 0x80));
    }
    std::string ours;
    append_json_string(&ours, text);
    std::string theirs = nlohmann::json(text).dump(
        -1, ' ', false, nlohmann::json::error_handler_t::replace);
    // Replacement counts for a bad sequence may differ; the rest may not.
    ASSERT_EQ(collapse_fffd(nlohmann::json::parse(ours).get<std::string>()),
              collapse_fffd(nlohmann::json::parse(theirs).get<std::string>()))
        << "input bytes: "
        << nlohmann::json(text).dump(-1, ' ', true,
                                     nlohmann::json::error_handler_t::replace);
    ASSERT_EQ(ours.find('\n'), std::string::npos);
  }
}

TEST(AppendJsonString, ValidUtf8IsKeptAndInvalidReplacedPerByte) {
  std::string out;
  append_json_string(&out, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(out, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  out.clear();
  // Overlong, surrogate, lone continuation, truncated sequence.
  append_json_string(&out, "\xc0\xaf|\xed\xa0\x80|\x80|\xe2\x82");
  EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(),
            "\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
            "\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(JsonFormatter, TableNodesRenderOnceAndStayRight) {
  // A node shared by two events (as the process table does) is rendered
  // once and gives the same text both times.
  auto shared = std::make_shared<const ProcNode>(ProcNode{7, "a \"b\"", "c"});
  Ancestry a;
  a.tree.emplace_back(shared);
  ConnectEvent ev;
  std::string one = event_line(ev, a, "u", "t");
  EXPECT_FALSE(shared->json.empty());
  EXPECT_EQ(event_line(ev, a, "u", "t"), one);
  auto j = nlohmann::json::parse(one);
  EXPECT_EQ(j["proctree"][0]["cmdline"], "a \"b\"");
}

// A file that cannot grow (RLIMIT_FSIZE stands for a full disk: the write
// that reaches the limit is cut short, the next one fails) keeps whole
// lines only, and the failure is kept. In a child: the limit is per
// process.
TEST(OutputSink, FullFileIsLeftWithWholeLinesOnly) {
  char path[] = "/tmp/pidtree-sink-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    signal(SIGXFSZ, SIG_IGN);
    rlimit lim{100, 100};
    setrlimit(RLIMIT_FSIZE, &lim);
    int out = open(path, O_WRONLY | O_APPEND);
    OutputSink sink(out);
    std::string line(39, 'x');
    line += '\n';
    for (int i = 0; i < 3; i++)
      sink.add_line(line);
    bool ok = sink.flush();
    sink.add_line(line);
    bool again = sink.flush();
    _exit(!ok && !again && sink.failed() && sink.error() == EFBIG ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::ifstream f(path);
  std::string text((std::istreambuf_iterator<char>(f)),
                   std::istreambuf_iterator<char>());
  unlink(path);
  EXPECT_EQ(text.size(), 80u);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
  EXPECT_EQ(text.back(), '\n');
}

}  // namespace
}  // namespace pidtree
