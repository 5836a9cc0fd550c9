#include "output/text.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include <gtest/gtest.h>

#include "output/output.h"

namespace pidtree {
namespace {

std::string view(const std::string &line, bool colour = false) {
  std::string out;
  TextView(colour).render(line, &out);
  return out;
}

const char kConnect[] =
    R"({"timestamp":"2026-11-29T12:47:51.361118Z","probe":"tcp_connect",)"
    R"("pid":15133,"tid":15133,"comm":"bash","uid":65534,)"
    R"("username":"nobody","family":"ipv4","saddr":"198.51.100.7",)"
    R"("sport":0,"daddr":"198.51.100.7","port":443,"proctree":[)"
    R"({"pid":15133,"cmdline":"bash -c exec","username":"nobody"},)"
    R"({"pid":15131,"cmdline":"sh -c deploy","username":"nobody",)"
    R"("loginuid":1000,"loginname":"alice"},)"
    R"({"pid":1,"cmdline":"/sbin/init","username":"root"}],"error":""})";

TEST(TextView, ConnectHeadlineWhoAndTreeFromPidOneDown) {
  EXPECT_EQ(view(kConnect),
            "2026-11-29 12:47:51.361118Z  tcp_connect  198.51.100.7:0 -> "
            "198.51.100.7:443\n"
            "    by pid 15133 (bash) user nobody uid 65534\n"
            "    1 root  /sbin/init\n"
            "      \u2514\u2500 15131 nobody (login alice) loginuid=1000  "
            "sh -c deploy\n"
            "        \u2514\u2500 15133 nobody  bash -c exec\n\n");
}

TEST(TextView, ListenShowsProtocolLocalAddressAndOtherFields) {
  std::string out =
      view(R"({"timestamp":"2026-12-01T15:48:08.293870Z","probe":"net_listen",)"
           R"("pid":7265,"comm":"python3","uid":65534,"username":"nobody",)"
           R"("family":"ipv6","laddr":"::","port":5353,"protocol":"udp",)"
           R"("netns":4026532177,"snapshot":true,"proctree":[],"error":""})");
  EXPECT_EQ(out,
            "2026-12-01 15:48:08.293870Z  net_listen  listen udp [::]:5353\n"
            "    by pid 7265 (python3) user nobody uid 65534\n"
            "    netns=4026532177 snapshot=true\n\n");
}

TEST(TextView, UdpSessionListsEachDestinationAndTheError) {
  std::string out = view(
      R"({"timestamp":"2026-12-01T17:50:06.292578Z","probe":"udp_session",)"
      R"("pid":30213,"tid":30214,"comm":"bash","uid":0,"username":"root",)"
      R"("family":"ipv6","saddr":"::","sport":58712,"destinations":[)"
      R"({"daddr":"2001:db8::7","port":53,"duration":0.001071,)"
      R"("msg_count":3}],"other_destinations_msg_count":0,"interim":false,)"
      R"("error":"session_max_duration_exceeded"})");
  EXPECT_EQ(out,
            "2026-12-01 17:50:06.292578Z  udp_session  [::]:58712 -> 1 "
            "destination\n"
            "    by pid 30213 tid 30214 (bash) user root uid 0\n"
            "    -> [2001:db8::7]:53 duration=0.001071 msg_count=3\n"
            "    other_destinations_msg_count=0 interim=false\n"
            "    error: session_max_duration_exceeded\n\n");
}

TEST(TextView, ContainerLine) {
  std::string out = view(
      R"({"probe":"tcp_connect","daddr":"127.0.0.1","port":8080,)"
      R"("container_name":"payments-api","container_id":)"
      R"("8ca244a02362287219bf31c66c46648f","container_runtime":"docker",)"
      R"("container_image":"img:1","container_labels":{"team":"payments"}})");
  EXPECT_EQ(out,
            "tcp_connect  -> 127.0.0.1:8080\n"
            "    container payments-api docker img:1 8ca244a02362 labels "
            "team=payments\n\n");
}

TEST(TextView, TypedLinesShowTheirTypeAndFields) {
  EXPECT_EQ(view(R"({"type":"lost_events","timestamp":"2026-11-29T12:20:01Z",)"
                 R"("count":112,"total":112})"),
            "2026-11-29 12:20:01Z  [lost_events]\n"
            "    count=112 total=112\n\n");
}

TEST(TextView, ControlBytesBidiAndC1AreEscapedNeverWritten) {
  // ESC (a terminal's escape sequences), a newline (a forged line), a C1
  // control (U+009B, the one-byte CSI) and a right-to-left override.
  std::string out =
      view(R"({"probe":"tcp_connect","comm":"a\u001b]0;pwned\u0007b","pid":1,)"
           R"("proctree":[{"pid":1,"cmdline":"x\nFAKE \u009b2J \u202eevil",)"
           R"("username":"root"}]})");
  EXPECT_EQ(out.find('\033'), std::string::npos) << out;
  EXPECT_EQ(out.find('\a'), std::string::npos) << out;
  EXPECT_EQ(out.find("\xc2\x9b"), std::string::npos) << out;
  EXPECT_EQ(out.find("\xe2\x80\xae"), std::string::npos) << out;
  EXPECT_NE(out.find("a\\x1b]0;pwned\\x07b"), std::string::npos) << out;
  EXPECT_NE(out.find("x\\x0aFAKE \\u009b2J \\u202eevil"), std::string::npos)
      << out;
  // Exactly the view's own lines: the headline, "by", the tree, a blank.
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 4) << out;
}

TEST(TextView, ColourOnlyWhenAsked) {
  EXPECT_EQ(view(kConnect).find('\033'), std::string::npos);
  std::string coloured = view(kConnect, true);
  EXPECT_NE(coloured.find("\033[1mtcp_connect\033[0m"), std::string::npos)
      << coloured;
  EXPECT_NE(coloured.find("\033[36m198.51.100.7:443\033[0m"),
            std::string::npos);
}

TEST(TextView, DeepTreesStopIndentingAndOddShapesAreShown) {
  std::string line = R"({"probe":"p","proctree":[)";
  for (int i = 0; i < 40; ++i)
    line += std::string(i ? "," : "") + R"({"pid":)" + std::to_string(i) + "}";
  line += "]}";
  std::string out = view(line);
  EXPECT_NE(out.find("\n" + std::string(4 + 24, ' ') + "\u2514\u2500 0"),
            std::string::npos)
      << out;
  // Not an object, wrong types (never made by the tracer): shown as far
  // as they fit, never a crash.
  EXPECT_EQ(view("not json \x1b"), "not json \\x1b\n\n");
  EXPECT_EQ(view(R"({"probe":1,"proctree":[3,{"pid":"x"}],)"
                 R"("destinations":{"a":1}})"),
            "1\n    x\n      \u2514\u2500 3\n\n");
}

TEST(TextView, LongCommandLinesAreCutAtACharacterWithTheRestCounted) {
  // An ancestor with a 1 MB argv (and the event's process with a long one
  // ending in a two-byte character across the cut): the view keeps the
  // first 512 bytes of each, never half a character, and says how much it
  // left out; the headline and the "by" line stay on top.
  const std::string huge(1 << 20, 'x');
  const std::string near = std::string(511, 'a') + "\u00e9\u00e9tail";
  const std::string line =
      R"({"probe":"tcp_connect","daddr":"127.0.0.1","port":9,"pid":7,)"
      R"("proctree":[{"pid":7,"cmdline":")" +
      near + R"("},{"pid":1,"cmdline":")" + huge + R"("}]})";
  const std::string out = view(line);
  EXPECT_EQ(out.rfind("tcp_connect  -> 127.0.0.1:9\n    by pid 7\n", 0), 0u)
      << out.substr(0, 200);
  EXPECT_NE(out.find("    1  " + std::string(512, 'x') + "\u2026 (" +
                     std::to_string((1 << 20) - 512) + " more bytes)\n"),
            std::string::npos);
  // 511 bytes of 'a', then the first two-byte character would end at 513:
  // the cut is before it.
  EXPECT_NE(
      out.find("  " + std::string(511, 'a') + "\u2026 (8 more bytes)\n\n"),
      std::string::npos)
      << out.substr(out.size() - 600);
  EXPECT_LT(out.size(), 2000u);
  // At the limit: whole, no marker.
  const std::string exact = std::string(512, 'b');
  EXPECT_EQ(view(R"({"proctree":[{"pid":2,"cmdline":")" + exact + R"("}]})"),
            "\n    2  " + exact + "\n\n");
}

TEST(TextView, SinkWritesTheViewOfEachLine) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  TextView text(false);
  OutputSink sink(fds[1]);
  sink.set_view(&text);
  sink.add_line(R"({"type":"a"})"
                "\n"
                R"({"type":"b"})"
                "\n");
  ASSERT_TRUE(sink.flush());
  char buf[256];
  ssize_t n = read(fds[0], buf, sizeof(buf));
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "[a]\n\n[b]\n\n");
  close(fds[0]);
}

TEST(TextView, ColourNeedsATerminal) {
  int fd = ::open("/dev/null", O_WRONLY);
  ASSERT_GE(fd, 0);
  EXPECT_FALSE(want_colour(fd));
  ::close(fd);
}

}  // namespace
}  // namespace pidtree
