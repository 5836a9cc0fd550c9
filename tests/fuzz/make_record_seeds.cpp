// Writes fuzz_records' seed inputs (one per scenario) into the directory
// given: valid records of every kind, built from bpf/event.h's structs, so
// the seeds follow the layouts when they change. Run by tests/fuzz/run.sh
// before fuzz_records, into a scratch corpus beside the committed one.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "event.h"

namespace {

std::vector<uint8_t> input;

template <typename T>
void add(const T &rec, size_t len = sizeof(T)) {
  input.push_back(static_cast<uint8_t>(len & 0xff));
  input.push_back(static_cast<uint8_t>(len >> 8));
  const auto *p = reinterpret_cast<const uint8_t *>(&rec);
  input.insert(input.end(), p, p + len);
}

void save(const std::string &dir, const char *name) {
  std::ofstream(dir + "/" + name, std::ios::binary)
      .write(reinterpret_cast<const char *>(input.data()),
             static_cast<std::streamsize>(input.size()));
  input.clear();
}

pidtree_proc_event fork_of(uint32_t pid, uint32_t ppid) {
  pidtree_proc_event f{};
  f.ts_boot_ns = pid * 10;
  f.kind = PIDTREE_EVENT_PROC_FORK;
  f.pid = pid;
  f.ppid = ppid;
  f.uid = 1000;
  f.loginuid = 1000;
  return f;
}

void exec_of(uint32_t pid, const std::string &argv, uint32_t flags = 0) {
  static pidtree_exec_event e;
  std::memset(&e, 0, sizeof(e));
  e.ts_boot_ns = pid * 10 + 1;
  e.kind = PIDTREE_EVENT_PROC_EXEC;
  e.pid = pid;
  e.uid = 1000;
  e.flags = flags;
  e.loginuid = 1000;
  e.args_len = static_cast<uint32_t>(argv.size());
  std::memcpy(e.args, argv.data(), argv.size());
  add(e, offsetof(pidtree_exec_event, args) + argv.size());
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: make_record_seeds DIR\n");
    return 2;
  }
  std::string dir = argv[1];

  add(fork_of(100, 1));
  exec_of(100, std::string("curl\0-s\0http://x\0", 17));
  pidtree_connect_event c{};
  c.ts_boot_ns = 2000;
  c.kind = PIDTREE_EVENT_TCP_CONNECT;
  c.pid = c.tid = 100;
  c.uid = 1000;
  c.family = 2;
  c.dport = 443;
  c.saddr[0] = 127, c.saddr[3] = 1;
  c.daddr[0] = 127, c.daddr[3] = 2;
  std::memcpy(c.comm, "curl", 4);
  c.loginuid = 1000;
  add(c);
  c.family = 10;
  c.daddr[0] = 0, c.daddr[15] = 1;
  add(c);
  save(dir, "connect");

  add(fork_of(200, 1));
  exec_of(200, std::string("nc\0-l\0", 6));
  pidtree_listen_event l{};
  l.ts_boot_ns = 3000;
  l.kind = PIDTREE_EVENT_NET_LISTEN;
  l.pid = l.tid = 200;
  l.family = 2;
  l.port = 8080;
  l.protocol = 6;
  l.netns = 4026531840u;
  std::memcpy(l.comm, "nc", 2);
  l.loginuid = PIDTREE_NO_LOGINUID;
  add(l);
  l.protocol = 17;
  l.family = 10;
  add(l);
  save(dir, "listen");

  add(fork_of(300, 1));
  pidtree_udp_event u{};
  u.ts_boot_ns = 4000;
  u.kind = PIDTREE_EVENT_UDP_SESSION;
  u.pid = u.tid = 300;
  u.what = PIDTREE_UDP_START;
  u.key = 0xffff888012345678ull;
  std::memcpy(u.comm, "dig", 3);
  add(u, offsetof(pidtree_udp_event, session));
  u.what = PIDTREE_UDP_END;
  u.ts_boot_ns = 9000;
  u.session.first_ns = 4000;
  u.session.last_ns = 8000;
  u.session.ndests = 2;
  u.session.pid = 300;
  u.session.family = 2;
  u.session.sport = 5353;
  for (int i = 0; i < 2; i++) {
    u.session.dests[i].addr[0] = 127;
    u.session.dests[i].addr[3] = static_cast<uint8_t>(1 + i);
    u.session.dests[i].port = 53;
    u.session.dests[i].family = 2;
    u.session.dests[i].msg_count = 3;
    u.session.dests[i].first_ns = 4000;
    u.session.dests[i].last_ns = 8000;
  }
  add(u, offsetof(pidtree_udp_event, session) +
             offsetof(pidtree_udp_session, dests) +
             2 * sizeof(pidtree_udp_dest));
  save(dir, "udp");

  // A deep chain, a thread-parent fork, a uid change, exits, argv cut and
  // missing, and a cgroup made and removed.
  for (uint32_t pid = 400; pid < 460; pid++)
    add(fork_of(pid, pid == 400 ? 1 : pid - 1));
  exec_of(459, std::string("sh\0-c\0\x1b[2J\n{\"forged\":1}\0", 25),
          PIDTREE_EXEC_ARGS_CUT);
  exec_of(458, "/bin/true", PIDTREE_EXEC_NO_ARGV);
  pidtree_proc_event f = fork_of(470, 459);
  f.flags = PIDTREE_FORK_CLONE_PARENT;
  add(f);
  pidtree_proc_event x{};
  x.kind = PIDTREE_EVENT_PROC_UID;
  x.pid = 459;
  x.uid = 0;
  add(x);
  x.kind = PIDTREE_EVENT_PROC_EXIT;
  x.pid = 458;
  add(x);
  pidtree_cgroup_event g{};
  g.kind = PIDTREE_EVENT_CGROUP;
  g.id = 1234;
  g.made = 1;
  const char path[] = "/system.slice/docker-abc.scope";
  g.path_len = sizeof(path) - 1;
  std::memcpy(g.path, path, sizeof(path));
  add(g, offsetof(pidtree_cgroup_event, path) + sizeof(path));
  c.pid = c.tid = 470;
  add(c);
  save(dir, "process");

  // A process that goes over its flood budget, and a short marker.
  pidtree_flood_event fl{};
  fl.kind = PIDTREE_EVENT_FLOOD;
  fl.pid = 459;
  fl.uid = 1000;
  fl.loginuid = PIDTREE_NO_LOGINUID;
  add(fl);
  add(fl, sizeof(fl) - 4);
  add(c);
  save(dir, "flood");
  return 0;
}
