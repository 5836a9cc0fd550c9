// What the tracer reads of /proc: a process's status, stat, cmdline and
// loginuid, the /proc/net/{tcp,tcp6,udp,udp6} tables of snapshots and the
// fd and namespace links. Any text a process or the kernel could leave
// there: parsed or refused, and a command line is joined into text that
// holds no NUL. Then the same through ProcFs reading a fixture /proc, as
// the tracer would.
#include <sys/stat.h>

#include <string>

#include "fuzz_util.h"
#include "probes/net_listen/snapshot.h"
#include "process/procfs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace pidtree;
  std::string text(reinterpret_cast<const char *>(data), size);

  std::string joined = join_cmdline(text);
  FUZZ_CHECK(joined.find('\0') == std::string::npos, "NUL in a joined argv");
  ProcessInfo info;
  parse_status(text, &info);
  parse_loginuid(text);
  uint64_t ticks = 0;
  parse_stat_start_ticks(text, &ticks);
  for (Protocol p : {Protocol::kTcp, Protocol::kUdp})
    for (Family f : {Family::kIpv4, Family::kIpv6})
      for (const ListeningSocket &s : parse_proc_net(text, p, f))
        FUZZ_CHECK(s.laddr.family == f, "a socket of the other family");
  socket_link_inode(text);
  netns_link_inode(text);

  // One process whose every file is the input.
  static const std::string root = fuzz::scratch_dir() + "/proc";
  static const bool made = [] {
    mkdir(root.c_str(), 0700);
    return mkdir((root + "/42").c_str(), 0700) == 0;
  }();
  (void)made;
  for (const char *file : {"status", "stat", "cmdline", "loginuid"})
    fuzz::write_file(root + "/42/" + file, data, size);
  ProcFs fs(root);
  ProcessInfo read;
  if (fs.read(42, &read) == ReadStatus::kOk) {
    FUZZ_CHECK(read.pid == 42, std::to_string(read.pid));
    FUZZ_CHECK(read.cmdline.find('\0') == std::string::npos, "NUL in argv");
  }
  fs.start_time_ns(42);
  fs.loginuid(42);
  return 0;
}
