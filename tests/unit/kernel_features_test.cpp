// KernelFeatures over fake root trees, and backend resolution.
#include "kernel/kernel_features.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace pidtree {
namespace {

namespace fs = std::filesystem;

class FakeRoot {
 public:
  FakeRoot() {
    std::string tmpl = (fs::temp_directory_path() / "pidtree-kf-XXXXXX");
    char *made = ::mkdtemp(tmpl.data());
    if (made == nullptr)
      throw std::runtime_error("mkdtemp failed");
    path_ = made;
  }
  ~FakeRoot() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string &path() const { return path_; }

  void dir(const std::string &rel) const {
    fs::create_directories(path_ + rel);
  }
  void file(const std::string &rel) const {
    fs::create_directories(fs::path(path_ + rel).parent_path());
    std::ofstream(path_ + rel) << "x\n";
  }

  // Pieces of a kernel.
  void tracefs(const std::string &at) const { dir(at + "/events"); }
  void kprobe_pmu() const { dir("/sys/bus/event_source/devices/kprobe"); }
  void legacy_kprobes(const std::string &tracefs_at) const {
    file(tracefs_at + "/kprobe_events");
  }
  void connect_tracepoint(const std::string &tracefs_at) const {
    file(tracefs_at + "/events/sock/inet_sock_set_state/format");
  }

 private:
  std::string path_;
};

const std::string kTracing = "/sys/kernel/tracing";
const std::string kDebugTracing = "/sys/kernel/debug/tracing";

std::string resolve_error(Backend requested, const KernelFeatures &k) {
  try {
    Backend b = resolve_backend(requested, k);
    ADD_FAILURE() << "resolved to " << backend_name(b);
  } catch (const std::runtime_error &e) {
    return e.what();
  }
  return "";
}

TEST(KernelFeatures, EmptyRootHasNothing) {
  FakeRoot root;
  KernelFeatures k(root.path());
  EXPECT_EQ(k.tracefs_dir(), "");
  EXPECT_FALSE(k.has_kprobes());
  EXPECT_FALSE(k.has_connect_tracepoint());
  EXPECT_FALSE(k.has_kernel_headers("6.1.0-18-amd64"));
}

TEST(KernelFeatures, TracefsAtSysKernelTracing) {
  FakeRoot root;
  root.tracefs(kTracing);
  EXPECT_EQ(KernelFeatures(root.path()).tracefs_dir(), kTracing);
}

TEST(KernelFeatures, TracefsAtDebugfs) {
  FakeRoot root;
  root.tracefs(kDebugTracing);
  EXPECT_EQ(KernelFeatures(root.path()).tracefs_dir(), kDebugTracing);
}

TEST(KernelFeatures, TracefsPrefersSysKernelTracing) {
  FakeRoot root;
  root.tracefs(kDebugTracing);
  root.tracefs(kTracing);
  EXPECT_EQ(KernelFeatures(root.path()).tracefs_dir(), kTracing);
}

TEST(KernelFeatures, UnmountedTracefsDirectoryIsNotTracefs) {
  // The mount point exists but nothing is mounted on it (no events/).
  FakeRoot root;
  root.dir(kTracing);
  root.tracefs(kDebugTracing);
  EXPECT_EQ(KernelFeatures(root.path()).tracefs_dir(), kDebugTracing);
  FakeRoot bare;
  bare.dir(kTracing);
  EXPECT_EQ(KernelFeatures(bare.path()).tracefs_dir(), "");
}

TEST(KernelFeatures, KprobesViaPmu) {
  FakeRoot root;
  root.kprobe_pmu();
  EXPECT_TRUE(KernelFeatures(root.path()).has_kprobes());
}

TEST(KernelFeatures, KprobesViaTracefsKprobeEvents) {
  for (const std::string &at : {kTracing, kDebugTracing}) {
    FakeRoot root;
    root.tracefs(at);
    root.legacy_kprobes(at);
    EXPECT_TRUE(KernelFeatures(root.path()).has_kprobes()) << at;
  }
}

TEST(KernelFeatures, KprobeEventsWithoutTracefsDoesNotCount) {
  FakeRoot root;
  // kprobe_events but no events/ dir: not a mounted tracefs.
  root.file(kTracing + "/kprobe_events");
  EXPECT_FALSE(KernelFeatures(root.path()).has_kprobes());
}

TEST(KernelFeatures, TracefsWithoutKprobeEvents) {
  FakeRoot root;
  root.tracefs(kTracing);
  root.connect_tracepoint(kTracing);
  KernelFeatures k(root.path());
  EXPECT_FALSE(k.has_kprobes());
  EXPECT_TRUE(k.has_connect_tracepoint());
}

TEST(KernelFeatures, ConnectTracepointInEitherTracefs) {
  for (const std::string &at : {kTracing, kDebugTracing}) {
    FakeRoot root;
    root.connect_tracepoint(at);
    EXPECT_TRUE(KernelFeatures(root.path()).has_connect_tracepoint()) << at;
  }
}

TEST(KernelFeatures, ConnectTracepointNeedsTheFormatFile) {
  FakeRoot root;
  root.dir(kTracing + "/events/sock");
  EXPECT_FALSE(KernelFeatures(root.path()).has_connect_tracepoint());
  root.dir(kTracing + "/events/sock/inet_sock_set_state");
  EXPECT_FALSE(KernelFeatures(root.path()).has_connect_tracepoint());
  root.file(kTracing + "/events/sock/inet_sock_set_state/format");
  EXPECT_TRUE(KernelFeatures(root.path()).has_connect_tracepoint());
}

TEST(KernelFeatures, KernelHeadersFromModulesBuild) {
  FakeRoot root;
  root.dir("/lib/modules/6.1.0-18-amd64/build/include");
  KernelFeatures k(root.path());
  EXPECT_TRUE(k.has_kernel_headers("6.1.0-18-amd64"));
  EXPECT_FALSE(k.has_kernel_headers("6.1.0-17-amd64"));
  EXPECT_FALSE(k.has_kernel_headers("6.1.0"));
}

TEST(KernelFeatures, KernelHeadersNeedIncludeDir) {
  FakeRoot root;
  root.dir("/lib/modules/5.15.0/build");  // a dangling build dir
  EXPECT_FALSE(KernelFeatures(root.path()).has_kernel_headers("5.15.0"));
}

TEST(KernelFeatures, KernelHeadersFromKheaders) {
  FakeRoot root;
  root.file("/sys/kernel/kheaders.tar.xz");
  KernelFeatures k(root.path());
  EXPECT_TRUE(k.has_kernel_headers("6.1.0-18-amd64"));
  EXPECT_TRUE(k.has_kernel_headers("anything"));
}

// ---- resolve_backend --------------------------------------------------------

struct Kernel {
  bool kprobes;
  bool tracepoint;
};

void build(const FakeRoot &root, Kernel k) {
  root.tracefs(kTracing);
  if (k.kprobes)
    root.kprobe_pmu();
  if (k.tracepoint)
    root.connect_tracepoint(kTracing);
}

TEST(ResolveBackend, BothAvailable) {
  FakeRoot root;
  build(root, {true, true});
  KernelFeatures k(root.path());
  EXPECT_EQ(resolve_backend(Backend::kAuto, k), Backend::kKprobe);
  EXPECT_EQ(resolve_backend(Backend::kKprobe, k), Backend::kKprobe);
  EXPECT_EQ(resolve_backend(Backend::kTracepoint, k), Backend::kTracepoint);
}

TEST(ResolveBackend, KprobesOnly) {
  FakeRoot root;
  build(root, {true, false});
  KernelFeatures k(root.path());
  EXPECT_EQ(resolve_backend(Backend::kAuto, k), Backend::kKprobe);
  EXPECT_EQ(resolve_backend(Backend::kKprobe, k), Backend::kKprobe);
  std::string e = resolve_error(Backend::kTracepoint, k);
  EXPECT_NE(e.find("inet_sock_set_state"), std::string::npos) << e;
  EXPECT_NE(e.find("--backend tracepoint"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos);
}

TEST(ResolveBackend, TracepointOnly) {
  FakeRoot root;
  build(root, {false, true});
  KernelFeatures k(root.path());
  EXPECT_EQ(resolve_backend(Backend::kAuto, k), Backend::kTracepoint);
  EXPECT_EQ(resolve_backend(Backend::kTracepoint, k), Backend::kTracepoint);
  std::string e = resolve_error(Backend::kKprobe, k);
  EXPECT_NE(e.find("kprobes"), std::string::npos) << e;
  EXPECT_NE(e.find("--backend kprobe"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos);
}

TEST(ResolveBackend, Neither) {
  FakeRoot root;
  build(root, {false, false});
  KernelFeatures k(root.path());
  for (Backend b : {Backend::kAuto, Backend::kKprobe, Backend::kTracepoint}) {
    std::string e = resolve_error(b, k);
    EXPECT_FALSE(e.empty()) << backend_name(b);
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  std::string e = resolve_error(Backend::kAuto, k);
  EXPECT_NE(e.find("kprobes"), std::string::npos) << e;
  EXPECT_NE(e.find("tracepoint"), std::string::npos) << e;
}

TEST(ResolveBackend, NoTracefsAtAllWithKprobePmu) {
  // The kprobe PMU works without tracefs; the tracepoint does not.
  FakeRoot root;
  root.kprobe_pmu();
  KernelFeatures k(root.path());
  EXPECT_EQ(resolve_backend(Backend::kAuto, k), Backend::kKprobe);
  EXPECT_THROW(resolve_backend(Backend::kTracepoint, k), std::runtime_error);
}

TEST(ResolveBackend, LegacyKprobesOnDebugfs) {
  FakeRoot root;
  root.tracefs(kDebugTracing);
  root.legacy_kprobes(kDebugTracing);
  root.connect_tracepoint(kDebugTracing);
  KernelFeatures k(root.path());
  EXPECT_EQ(resolve_backend(Backend::kAuto, k), Backend::kKprobe);
  EXPECT_EQ(resolve_backend(Backend::kTracepoint, k), Backend::kTracepoint);
}

}  // namespace
}  // namespace pidtree
