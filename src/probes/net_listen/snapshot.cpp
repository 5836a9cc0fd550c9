#include "probes/net_listen/snapshot.h"

#include <dirent.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>

#include "common/clock.h"
#include "process/procfs.h"

namespace pidtree {

namespace {

constexpr int kTcpListen = 0x0a;
// /proc/net files are kernel text, but a bound keeps a hostile or broken
// one from costing more than that.
constexpr size_t kMaxNetFile = 64u << 20;

bool parse_hex(const std::string &text, uint64_t max, uint64_t *out) {
  if (text.empty() || text.size() > 16)
    return false;
  uint64_t v = 0;
  for (char c : text) {
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                   : -1;
    if (d < 0)
      return false;
    v = v * 16 + static_cast<uint64_t>(d);
  }
  if (v > max)
    return false;
  *out = v;
  return true;
}

bool parse_dec(const std::string &text, uint64_t max, uint64_t *out) {
  if (text.empty() || text.size() > 20)
    return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return false;
    uint64_t next = v * 10 + static_cast<uint64_t>(c - '0');
    if (next < v)
      return false;
    v = next;
  }
  if (v > max)
    return false;
  *out = v;
  return true;
}

// "0100007F:0035" (IPv4) or 32 hex digits and a port (IPv6). The kernel
// prints each 32-bit word of the address as the host reads it, so the
// word's bytes in memory are the address's bytes in network order.
bool parse_endpoint(const std::string &text, Family family, IpAddress *addr,
                    uint16_t *port) {
  size_t colon = text.find(':');
  size_t hex = family == Family::kIpv4 ? 8 : 32;
  if (colon != hex || text.size() != hex + 5)
    return false;
  addr->family = family;
  addr->bytes.fill(0);
  for (size_t word = 0; word < hex / 8; ++word) {
    uint64_t v = 0;
    if (!parse_hex(text.substr(word * 8, 8), 0xffffffffu, &v))
      return false;
    uint32_t w = static_cast<uint32_t>(v);
    std::memcpy(addr->bytes.data() + word * 4, &w, 4);
  }
  uint64_t p = 0;
  if (!parse_hex(text.substr(colon + 1), 0xffff, &p))
    return false;
  *port = static_cast<uint16_t>(p);
  return true;
}

uint64_t link_inode(const std::string &link, const char *prefix) {
  size_t n = std::strlen(prefix);
  if (link.size() < n + 2 || link.compare(0, n, prefix) != 0 ||
      link.back() != ']')
    return 0;
  uint64_t v = 0;
  return parse_dec(link.substr(n, link.size() - n - 1), UINT64_MAX, &v) ? v : 0;
}

std::string read_link(const std::string &path) {
  char buf[256];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf));
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

}  // namespace

std::vector<ListeningSocket> parse_proc_net(const std::string &text,
                                            Protocol protocol, Family family) {
  std::vector<ListeningSocket> out;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    std::string word;
    while (f.size() < 10 && fields >> word)
      f.push_back(word);
    if (f.size() < 10 || f[0].empty() || f[0].back() != ':')
      continue;
    ListeningSocket s;
    s.protocol = protocol;
    s.family = family;
    uint64_t state = 0, uid = 0, inode = 0;
    if (!parse_endpoint(f[1], family, &s.laddr, &s.port) ||
        !parse_hex(f[3], 0xff, &state) || !parse_dec(f[7], UINT32_MAX, &uid) ||
        !parse_dec(f[9], UINT64_MAX, &inode))
      continue;
    if (protocol == Protocol::kTcp ? state != kTcpListen : s.port == 0)
      continue;
    s.uid = static_cast<uint32_t>(uid);
    s.inode = inode;
    out.push_back(s);
  }
  return out;
}

uint64_t socket_link_inode(const std::string &link) {
  return link_inode(link, "socket:[");
}

uint32_t netns_link_inode(const std::string &link) {
  uint64_t v = link_inode(link, "net:[");
  return v <= UINT32_MAX ? static_cast<uint32_t>(v) : 0;
}

std::vector<uint32_t> ProcSocketSource::pids() {
  std::vector<uint32_t> out;
  DIR *dir = ::opendir(root_.c_str());
  if (!dir)
    return out;
  while (dirent *e = ::readdir(dir)) {
    uint64_t pid = 0;
    if (parse_dec(e->d_name, UINT32_MAX, &pid) && pid > 0)
      out.push_back(static_cast<uint32_t>(pid));
  }
  ::closedir(dir);
  return out;
}

std::string ProcSocketSource::netns_link(uint32_t pid) {
  return read_link(root_ + "/" + std::to_string(pid) + "/ns/net");
}

std::vector<std::string> ProcSocketSource::fd_links(uint32_t pid) {
  std::vector<std::string> out;
  std::string dir_path = root_ + "/" + std::to_string(pid) + "/fd";
  DIR *dir = ::opendir(dir_path.c_str());
  if (!dir)
    return out;
  while (dirent *e = ::readdir(dir)) {
    if (e->d_name[0] == '.')
      continue;
    std::string link = read_link(dir_path + "/" + e->d_name);
    if (!link.empty())
      out.push_back(std::move(link));
  }
  ::closedir(dir);
  return out;
}

bool ProcSocketSource::net_file(uint32_t pid, const char *file,
                                std::string *text) {
  bool cut = false;
  if (read_file(root_ + "/" + std::to_string(pid) + "/net/" + file, kMaxNetFile,
                text, &cut) != FileRead::kOk)
    return false;
  // A cut file still gives its whole lines; the cut one could name another
  // socket's inode.
  if (cut)
    text->resize(
        text->rfind('\n') == std::string::npos ? 0 : text->rfind('\n') + 1);
  return true;
}

std::string ProcSocketSource::comm(uint32_t pid) {
  std::string text;
  bool cut = false;
  if (read_file(root_ + "/" + std::to_string(pid) + "/comm", 64, &text, &cut) !=
      FileRead::kOk)
    return "";
  if (!text.empty() && text.back() == '\n')
    text.pop_back();
  return text;
}

uint64_t ProcSocketSource::now_ns() { return boottime_now_ns(); }

std::vector<ListenEvent> scan_listeners(
    SocketSource &source, bool tcp, bool udp,
    const std::function<bool(const ListenEvent &)> &keep) {
  struct Found {
    ListeningSocket socket;
    uint32_t netns;
  };
  std::vector<uint32_t> pids = source.pids();
  // One process per network namespace reads that namespace's sockets.
  std::map<uint32_t, uint32_t> reader_of_netns;
  for (uint32_t pid : pids)
    if (uint32_t ns = netns_link_inode(source.netns_link(pid)))
      reader_of_netns.emplace(ns, pid);
  struct File {
    const char *name;
    Protocol protocol;
    Family family;
  };
  std::vector<File> files;
  if (tcp) {
    files.push_back({"tcp", Protocol::kTcp, Family::kIpv4});
    files.push_back({"tcp6", Protocol::kTcp, Family::kIpv6});
  }
  if (udp) {
    files.push_back({"udp", Protocol::kUdp, Family::kIpv4});
    files.push_back({"udp6", Protocol::kUdp, Family::kIpv6});
  }
  std::unordered_map<uint64_t, Found> by_inode;
  for (const auto &[netns, reader] : reader_of_netns) {
    for (const File &f : files) {
      std::string text;
      if (!source.net_file(reader, f.name, &text))
        continue;
      for (const auto &s : parse_proc_net(text, f.protocol, f.family))
        if (s.inode != 0)
          by_inode.emplace(s.inode, Found{s, netns});
    }
  }
  std::vector<ListenEvent> out;
  if (by_inode.empty())
    return out;
  for (uint32_t pid : pids) {
    std::set<uint64_t> seen;  // once per process, however many fds
    std::vector<std::string> links = source.fd_links(pid);
    uint64_t stamp = source.now_ns();
    std::string comm;
    bool have_comm = false;
    for (const auto &link : links) {
      uint64_t inode = socket_link_inode(link);
      auto it = inode ? by_inode.find(inode) : by_inode.end();
      if (it == by_inode.end() || !seen.insert(inode).second)
        continue;
      if (!have_comm) {
        comm = source.comm(pid);
        have_comm = true;
      }
      ListenEvent ev;
      ev.snapshot = true;
      ev.ts_boot_ns = stamp;
      ev.pid = pid;
      ev.uid = it->second.socket.uid;
      ev.netns = it->second.netns;
      ev.family = it->second.socket.family;
      ev.laddr = it->second.socket.laddr;
      ev.port = it->second.socket.port;
      ev.protocol = it->second.socket.protocol;
      ev.comm = comm;
      if (keep(ev))
        out.push_back(std::move(ev));
    }
  }
  return out;
}

}  // namespace pidtree
