// Remote includes (!include https://...): the loader's rules for URLs, the
// kept copies and their refetch, and the reloader's handling of a changed
// or failed remote file. The fetcher is a fake; the real one (libcurl) is
// tested against a server on loopback in tests/runtime/test_cli.py.
#include "config/remote.h"
#include "fake_clock.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "common/net.h"
#include "config/config_reload.h"
#include "config_text.h"
#include "output/output.h"

namespace pidtree {
namespace {

class FakeFetcher : public Fetcher {
 public:
  std::string fetch(const std::string &url, std::string *body) override {
    std::lock_guard<std::mutex> lock(mu);
    ++calls[url];
    auto e = errors.find(url);
    if (e != errors.end())
      return e->second;
    auto it = files.find(url);
    if (it == files.end())
      return "The requested URL returned error: 404";
    *body = it->second;
    return "";
  }
  void set(const std::string &url, const std::string &text) {
    std::lock_guard<std::mutex> lock(mu);
    files[url] = text;
  }
  void fail(const std::string &url, const std::string &why) {
    std::lock_guard<std::mutex> lock(mu);
    errors[url] = why;
  }
  void heal(const std::string &url) {
    std::lock_guard<std::mutex> lock(mu);
    errors.erase(url);
  }
  int count(const std::string &url) {
    std::lock_guard<std::mutex> lock(mu);
    return calls[url];
  }

  std::mutex mu;
  std::map<std::string, std::string> files, errors;
  std::map<std::string, int> calls;
};

const char kNets[] = "https://conf.example/fleet/nets.yaml";
const char kNetsYaml[] =
    "- subnet_name: a\n  network: 198.51.100.0\n  network_mask: "
    "255.255.255.0\n";

std::string error_of(const std::string &path, RemoteFiles *remote) {
  try {
    load_config(path, remote);
  } catch (const ConfigError &e) {
    return e.what();
  }
  return "<no error>";
}

struct Remote : ::testing::Test {
  FakeFetcher fetcher;
  pidtree::testing::FakeClock clock{1764680000000000000};
  RemoteIncludes remote{fetcher, clock, std::chrono::seconds(3600)};
  pidtree::testing::TempDir dir;
  std::string main_file(const std::string &url) {
    return dir.write("main.yaml",
                     "tcp_connect:\n  filters: !include " + url + "\n");
  }
};

TEST_F(Remote, AnIncludedUrlIsFetchedOnceAndKept) {
  fetcher.set(kNets, kNetsYaml);
  std::string main = main_file(kNets);
  FileConfig c = load_config(main, &remote);
  ASSERT_EQ(c.section("tcp_connect").rules.size(), 1u);
  EXPECT_EQ(format_cidr(c.section("tcp_connect").rules[0].network),
            "198.51.100.0/24");
  EXPECT_EQ(c.urls, std::vector<std::string>{kNets});
  EXPECT_EQ(c.files, std::vector<std::string>{main});  // URLs not watched
  load_config(main, &remote);
  EXPECT_EQ(fetcher.count(kNets), 1);  // the second load: the kept copy
}

TEST_F(Remote, RelativeIncludesOfARemoteFileAreBesideItsUrl) {
  fetcher.set(kNets, "!include more/ports.yaml\n");
  fetcher.set("https://conf.example/fleet/more/ports.yaml", "[22, 80]\n");
  std::string main = dir.write(
      "main.yaml",
      std::string("tcp_connect:\n  excludeports: !include ") + kNets + "\n");
  FileConfig c = load_config(main, &remote);
  EXPECT_EQ(c.section("tcp_connect").ports.size(), 2u);
  EXPECT_EQ(c.urls.size(), 2u);
}

TEST_F(Remote, ARemoteFileMayNotIncludeThisHostsFiles) {
  fetcher.set(kNets, "!include /etc/passwd\n");
  std::string e = error_of(main_file(kNets), &remote);
  EXPECT_NE(e.find(std::string(kNets) +
                   ":1:1: !include: '/etc/passwd': a "
                   "remote file may include only URLs and paths relative to "
                   "its own URL"),
            std::string::npos)
      << e;
}

TEST_F(Remote, ErrorsNameTheUrlLineAndColumn) {
  fetcher.set(kNets, "- subnet_name: a\n  network: 300.1.1.1/8\n");
  std::string e = error_of(main_file(kNets), &remote);
  EXPECT_EQ(e.rfind(std::string(kNets) + ":2:12: ", 0), 0u) << e;
  fetcher.set(kNets, "[unclosed\n");
  RemoteIncludes fresh(fetcher, clock, std::chrono::seconds(3600));
  e = error_of(main_file(kNets), &fresh);
  EXPECT_NE(e.find(std::string(kNets) + ":2:1: invalid YAML"),
            std::string::npos)
      << e;
}

TEST_F(Remote, AFailedFetchOtherSchemesLoopsAndARemoteRootAreRefused) {
  fetcher.fail(kNets, "Connection timed out after 10001 milliseconds");
  std::string main = main_file(kNets);
  EXPECT_NE(error_of(main, &remote)
                .find(main + ":2:12: !include: cannot fetch '" + kNets +
                      "': Connection timed out after 10001 milliseconds"),
            std::string::npos)
      << error_of(main, &remote);
  EXPECT_NE(error_of(main_file("ftp://conf.example/n.yaml"), &remote)
                .find("'ftp://conf.example/n.yaml': only http:// and "
                      "https:// includes are supported"),
            std::string::npos);
  fetcher.set("http://conf.example/a.yaml", "!include b.yaml\n");
  fetcher.set("http://conf.example/b.yaml", "!include a.yaml\n");
  EXPECT_NE(error_of(main_file("http://conf.example/a.yaml"), &remote)
                .find("'a.yaml' is already being included (a loop)"),
            std::string::npos);
  EXPECT_NE(error_of("https://conf.example/main.yaml", &remote)
                .find("the configuration file itself must be local"),
            std::string::npos);
  // Without a RemoteFiles (the fuzz target, tests): refused, not fetched.
  EXPECT_NE(error_of(main, nullptr).find("remote includes are not read here"),
            std::string::npos);
}

TEST_F(Remote, ARefetchFindsChangesAndAFailedOneKeepsTheLastGoodCopy) {
  fetcher.set(kNets, kNetsYaml);
  std::string main = main_file(kNets);
  FileConfig c = load_config(main, &remote);
  remote.use(c.urls);
  std::vector<std::string> failures;
  remote.refresh_all();
  EXPECT_FALSE(remote.poll(&failures));  // the same text: no change
  fetcher.set(kNets, std::string(kNetsYaml) +
                         "- subnet_name: b\n  network: 203.0.113.0/24\n");
  remote.refresh_all();
  EXPECT_TRUE(remote.poll(&failures));
  EXPECT_FALSE(remote.poll(&failures));  // told once
  EXPECT_TRUE(failures.empty());
  EXPECT_EQ(load_config(main, &remote).section("tcp_connect").rules.size(), 2u);
  fetcher.fail(kNets, "Could not resolve host: conf.example");
  remote.refresh_all();
  EXPECT_FALSE(remote.poll(&failures));
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0], std::string("cannot fetch '") + kNets +
                             "': Could not resolve host: conf.example; the "
                             "copy fetched at 2025-12-02T12:53:20.000000Z "
                             "stays");
  EXPECT_EQ(load_config(main, &remote).section("tcp_connect").rules.size(), 2u);
}

TEST_F(Remote, UseForgetsUrlsNoLongerIncluded) {
  fetcher.set(kNets, kNetsYaml);
  std::string main = main_file(kNets);
  load_config(main, &remote);
  remote.use({});
  load_config(main, &remote);
  EXPECT_EQ(fetcher.count(kNets), 2);
}

TEST_F(Remote, TheThreadRefetchesSoonAfterAsked) {
  fetcher.set(kNets, kNetsYaml);
  FileConfig c = load_config(main_file(kNets), &remote);
  remote.use(c.urls);  // starts the thread (interval: an hour)
  fetcher.set(kNets, "[]\n");
  remote.refresh_soon();
  std::vector<std::string> failures;
  bool changed = false;
  for (int i = 0; i < 500 && !changed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    changed = remote.poll(&failures);
  }
  EXPECT_TRUE(changed);
  EXPECT_EQ(fetcher.count(kNets), 2);
}

class Target : public Reconfigurable {
 public:
  std::string reconfigure(const FileConfig &file, size_t *rules,
                          std::vector<std::string> *) override {
    ++calls;
    *rules = file.section("tcp_connect").rules.size();
    return "";
  }
  int calls = 0;
};

std::string read_all(const std::string &path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST_F(Remote, TheReloaderReloadsOnAChangeAndReportsAFailedFetch) {
  fetcher.set(kNets, kNetsYaml);
  std::string main = main_file(kNets);
  FileConfig c = load_config(main, &remote);
  remote.use(c.urls);
  std::string out = dir.write("out.jsonl", "");
  int fd = ::open(out.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  OutputSink sink(fd);
  Target target;
  ConfigReloader reloader(main, true, target, sink, clock, &remote);
  reloader.start(c);
  fetcher.set(kNets, std::string(kNetsYaml) +
                         "- subnet_name: b\n  network: 203.0.113.0/24\n");
  remote.refresh_all();
  reloader.poll();
  EXPECT_EQ(target.calls, 1);
  fetcher.fail(kNets, "Operation timed out");
  remote.refresh_all();
  reloader.poll();
  EXPECT_EQ(target.calls, 1);  // nothing to reload: the copy stays
  EXPECT_EQ(reloader.applied(), 1u);
  EXPECT_EQ(reloader.refused(), 1u);
  ASSERT_TRUE(sink.flush());
  std::string lines = read_all(out);
  EXPECT_NE(lines.find(R"("status":"applied")"), std::string::npos) << lines;
  EXPECT_NE(lines.find(R"("trigger":"remote change")"), std::string::npos)
      << lines;
  EXPECT_NE(lines.find(R"("trigger":"remote fetch")"), std::string::npos)
      << lines;
  EXPECT_NE(lines.find("Operation timed out; the copy fetched at"),
            std::string::npos)
      << lines;
}

}  // namespace
}  // namespace pidtree
