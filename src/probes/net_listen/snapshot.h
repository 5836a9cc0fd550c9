// net_listen's snapshots: every TCP listener and every bound UDP socket in
// every network namespace on the host, with the processes that own them,
// read from /proc. A socket is reported once per owning process (as
// upstream does): the listener shared by a pre-forking server's workers is
// one line per worker.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/net.h"
#include "probes/net_listen/listen_event.h"

namespace pidtree {

struct ListeningSocket {
  Protocol protocol = Protocol::kTcp;
  Family family = Family::kIpv4;
  IpAddress laddr;
  uint16_t port = 0;
  uint32_t uid = 0;  // the socket's owner
  uint64_t inode = 0;
};

// The sockets of one /proc/net/{tcp,tcp6,udp,udp6} text that a snapshot
// reports: TCP in LISTEN, UDP with a local port (bound, or given one by
// the kernel). Lines that do not parse are skipped.
std::vector<ListeningSocket> parse_proc_net(const std::string &text,
                                            Protocol protocol, Family family);

// The inode of "socket:[12345]" (an fd's link), or 0.
uint64_t socket_link_inode(const std::string &link);
// The inode of "net:[4026531840]" (a namespace link), or 0.
uint32_t netns_link_inode(const std::string &link);

// What a scan reads, behind an interface so the scan is testable.
class SocketSource {
 public:
  virtual ~SocketSource() = default;
  virtual std::vector<uint32_t> pids() = 0;
  // readlink of /proc/PID/ns/net and of each /proc/PID/fd/N ("" if gone).
  virtual std::string netns_link(uint32_t pid) = 0;
  virtual std::vector<std::string> fd_links(uint32_t pid) = 0;
  // /proc/PID/net/FILE (tcp, tcp6, udp, udp6); false if unreadable.
  virtual bool net_file(uint32_t pid, const char *file, std::string *text) = 0;
  virtual std::string comm(uint32_t pid) = 0;
  // CLOCK_BOOTTIME, ns: the kernel's event clock.
  virtual uint64_t now_ns() = 0;
};

class ProcSocketSource : public SocketSource {
 public:
  explicit ProcSocketSource(std::string root = "/proc")
      : root_(std::move(root)) {}
  std::vector<uint32_t> pids() override;
  std::string netns_link(uint32_t pid) override;
  std::vector<std::string> fd_links(uint32_t pid) override;
  bool net_file(uint32_t pid, const char *file, std::string *text) override;
  std::string comm(uint32_t pid) override;
  uint64_t now_ns() override;

 private:
  std::string root_;
};

// One scan: a snapshot event (snapshot = true, no tid) per socket and
// owning process, stamped when that process's descriptors were read.
// `keep` says which to report (the probe's filters).
std::vector<ListenEvent> scan_listeners(
    SocketSource &source, bool tcp, bool udp,
    const std::function<bool(const ListenEvent &)> &keep);

}  // namespace pidtree
