// Load generator for the end-to-end benchmark (bench/run.py): connect
// storms and short-lived process churn, run inside the benchmark's own
// network namespace. It connects only to the address it is given; the
// driver gives it addresses that exist only inside that namespace.
//
//   loadgen connect --addr A --port P [--workers N] [--duration S | --count C]
//                   [--pin] [--interval-us U]
//     N worker processes (default 2; 0 = this process) each loop
//     socket() + connect() + close() to A:P (IPv4 or IPv6). Connecting to a
//     closed port is refused at once, after the kernel's SYN_SENT
//     transition, which is what the tracer sees. --pin puts worker i on CPU
//     i mod ncpu (used to make every CPU's perf buffer emit its loss
//     record). --interval-us sleeps between connects (a slow, steady trickle).
//
//   loadgen bind --addr A --port P [--ports K] [--workers N]
//                [--duration S | --count C] [--pin]
//     N workers each loop socket(SOCK_DGRAM) + bind() + close() on A, worker
//     i cycling through ports P + i*K .. P + i*K + K-1 (default K 100), so
//     no two workers ever want the same port: explicit binds, each one a
//     net_listen event.
//
//   loadgen udp --addr A --port P [--per-socket K] [--receive] [--workers N]
//               [--duration S | --count C] [--pin]
//     N workers each send one-byte datagrams to A:P with sendto(), K per
//     socket (socket, K sends, close: K 1 is a resolver's one socket per
//     query); K 0 (the default) keeps one socket per worker for the whole
//     run. --receive binds A:P first (and never reads it), so no "port
//     unreachable" is made for each datagram. done counts the sends.
//
//   loadgen tcp-stream --addr A --port P [--size B] [--workers N] ...
//     Each worker connects to a listener of its own on A:P+worker, accepts,
//     then loops a write() of B bytes (default 64) and the read() of them
//     at the other end: a stream of small writes. done counts the writes.
//
//   loadgen tcp-accept --addr A --port P [--workers N] ...
//     Each worker loops socket + connect + accept + close of both against a
//     listener of its own on A:P+worker. done counts the accepts.
//
//   loadgen spawn --count N [--workers W] -- PROGRAM [ARGS...]
//     W workers (default 2) fork + exec + wait PROGRAM, N times in all.
//
//   loadgen syscall [--workers N] --duration S
//     N workers (default 2; 0 = this process) each loop getppid(): the
//     cost of a syscall's entry and exit, which syscall tracepoints raise
//     for every task on the host once any of them is attached.
//
// Prints one line of key=value pairs on stdout: what was done and the rate,
// timed from the moment all workers are released to the last one's end, and
// the CPU seconds (user + system) the workers used.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;

void on_signal(int) { g_stop = 1; }

[[noreturn]] void usage(const char *why) {
  std::fprintf(
      stderr,
      "loadgen: %s\n"
      "usage: loadgen connect --addr A --port P [--workers N] "
      "[--duration S | --count C] [--pin] [--interval-us U]\n"
      "       loadgen bind --addr A --port P [--ports K] [--workers N] "
      "[--duration S | --count C] [--pin]\n"
      "       loadgen udp --addr A --port P [--per-socket K] [--receive] "
      "[--workers N] [--duration S | --count C] [--pin]\n"
      "       loadgen tcp-stream|tcp-accept --addr A --port P [--size B] "
      "[--workers N] [--duration S | --count C] [--pin]\n"
      "       loadgen spawn --count N [--workers W] -- PROGRAM "
      "[ARGS...]\n"
      "       loadgen fork [--workers N] [--duration S | --count C]\n"
      "       loadgen syscall [--workers N] --duration S\n",
      why);
  std::exit(2);
}

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

// What each worker reports back, in memory shared with the parent.
struct Slot {
  std::atomic<uint64_t> done;
  std::atomic<uint64_t> errors;
  std::atomic<int> last_errno;
};

struct Target {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = AF_INET;
};

Target parse_target(const std::string &addr, int port) {
  Target t;
  auto *v4 = reinterpret_cast<sockaddr_in *>(&t.addr);
  auto *v6 = reinterpret_cast<sockaddr_in6 *>(&t.addr);
  if (inet_pton(AF_INET, addr.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    t.len = sizeof(*v4);
    t.family = AF_INET;
  } else if (inet_pton(AF_INET6, addr.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    t.len = sizeof(*v6);
    t.family = AF_INET6;
  } else {
    usage("--addr is not an IPv4 or IPv6 address");
  }
  return t;
}

struct Config {
  std::string mode;
  std::string addr;
  int port = -1;
  int workers = 2;
  double duration = 0;
  uint64_t count = 0;
  bool pin = false;
  long interval_us = 0;
  int ports = 100;              // bind: ports per worker
  uint64_t per_socket = 0;      // udp: sends per socket, 0 = one socket
  bool receive = false;         // udp: bind the destination first
  size_t size = 64;             // tcp-stream: bytes per write
  std::vector<char *> program;  // spawn: argv, null-terminated
};

// One connect attempt. Refused (the expected outcome) and success both mean
// the kernel went through SYN_SENT; anything else is an error.
bool connect_once(const Target &t, int *err) {
  int fd = socket(t.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *err = errno;
    return false;
  }
  int rc = connect(fd, reinterpret_cast<const sockaddr *>(&t.addr), t.len);
  int e = errno;
  close(fd);
  if (rc == 0 || e == ECONNREFUSED)
    return true;
  *err = e;
  return false;
}

// One UDP bind to an explicit port, then close (which frees the port).
bool bind_once(const Target &t, uint16_t port, int *err) {
  int fd = socket(t.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *err = errno;
    return false;
  }
  sockaddr_storage addr = t.addr;
  if (t.family == AF_INET)
    reinterpret_cast<sockaddr_in *>(&addr)->sin_port = htons(port);
  else
    reinterpret_cast<sockaddr_in6 *>(&addr)->sin6_port = htons(port);
  int rc = bind(fd, reinterpret_cast<const sockaddr *>(&addr), t.len);
  int e = errno;
  close(fd);
  if (rc == 0)
    return true;
  *err = e;
  return false;
}

// What a worker keeps between iterations: its UDP socket, its TCP
// listener and stream.
struct WorkerState {
  int fd = -1;         // udp: the socket in use
  uint64_t on_fd = 0;  // udp: sends on it so far
  int listener = -1;   // tcp-*: the worker's own listener
  int client = -1;     // tcp-stream: both ends
  int server = -1;
  std::vector<char> buf;
  ~WorkerState() {
    for (int f : {fd, listener, client, server})
      if (f >= 0)
        close(f);
  }
};

// One datagram; a new socket first when the last one has had its share.
bool udp_once(const Config &cfg, const Target &t, WorkerState *st, int *err) {
  if (st->fd < 0) {
    st->fd = socket(t.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (st->fd < 0) {
      *err = errno;
      return false;
    }
  }
  ssize_t rc = sendto(st->fd, "u", 1, 0,
                      reinterpret_cast<const sockaddr *>(&t.addr), t.len);
  int e = errno;
  if (cfg.per_socket != 0 && ++st->on_fd >= cfg.per_socket) {
    close(st->fd);
    st->fd = -1;
    st->on_fd = 0;
  }
  if (rc == 1)
    return true;
  *err = e;
  return false;
}

Target with_port(const Target &t, int port) {
  Target out = t;
  if (t.family == AF_INET)
    reinterpret_cast<sockaddr_in *>(&out.addr)->sin_port =
        htons(static_cast<uint16_t>(port));
  else
    reinterpret_cast<sockaddr_in6 *>(&out.addr)->sin6_port =
        htons(static_cast<uint16_t>(port));
  return out;
}

// The worker's listener on its own port (and, for a stream, both ends of
// one connection); false with errno in *err.
bool tcp_setup(const Config &cfg, const Target &t, WorkerState *st, int *err) {
  st->listener = socket(t.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (st->listener < 0 ||
      setsockopt(st->listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) !=
          0 ||
      bind(st->listener, reinterpret_cast<const sockaddr *>(&t.addr), t.len) !=
          0 ||
      listen(st->listener, 128) != 0) {
    *err = errno;
    return false;
  }
  if (cfg.mode != "tcp-stream")
    return true;
  st->client = socket(t.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (st->client < 0 ||
      connect(st->client, reinterpret_cast<const sockaddr *>(&t.addr), t.len) !=
          0 ||
      (st->server = accept4(st->listener, nullptr, nullptr, SOCK_CLOEXEC)) <
          0) {
    *err = errno;
    return false;
  }
  setsockopt(st->client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  st->buf.assign(cfg.size, 's');
  return true;
}

// One small write, and its read at the other end.
bool stream_once(WorkerState *st, int *err) {
  size_t n = st->buf.size();
  if (write(st->client, st->buf.data(), n) != static_cast<ssize_t>(n)) {
    *err = errno;
    return false;
  }
  for (size_t got = 0; got < n;) {
    ssize_t r = read(st->server, st->buf.data() + got, n - got);
    if (r <= 0) {
      *err = r < 0 ? errno : EPIPE;
      return false;
    }
    got += static_cast<size_t>(r);
  }
  return true;
}

// One connection made, accepted and closed at both ends.
bool accept_once(const Target &t, WorkerState *st, int *err) {
  int fd = socket(t.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *err = errno;
    return false;
  }
  int rc = connect(fd, reinterpret_cast<const sockaddr *>(&t.addr), t.len);
  int e = errno;
  int a = rc == 0 ? accept4(st->listener, nullptr, nullptr, SOCK_CLOEXEC) : -1;
  if (rc == 0 && a < 0)
    e = errno;
  if (a >= 0)
    close(a);
  close(fd);
  if (a >= 0)
    return true;
  *err = e;
  return false;
}

bool spawn_once(const Config &cfg, int *err) {
  pid_t pid = fork();
  if (pid < 0) {
    *err = errno;
    return false;
  }
  if (pid == 0) {
    execv(cfg.program[0], cfg.program.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return true;
  *err = WIFEXITED(status) ? 1000 + WEXITSTATUS(status) : 2000;
  return false;
}

// A process that exits at once: the process table's fork and exit events
// and nothing else.
bool fork_once(int *err) {
  pid_t pid = fork();
  if (pid < 0) {
    *err = errno;
    return false;
  }
  if (pid == 0)
    _exit(0);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return true;
}

// A syscall that does nothing: what the kernel's syscall entry and exit cost
// (with syscall tracepoints attached anywhere, every task takes the slow
// path through them).
bool syscall_once() {
  syscall(SYS_getppid);
  return true;
}

// The work of one worker: until the deadline, or until it has done its
// share of --count.
void work(const Config &cfg, const Target &target, double deadline,
          uint64_t share, int worker, Slot *slot) {
  const bool connect_mode = cfg.mode == "connect";
  const bool syscall_mode = cfg.mode == "syscall";
  const bool bind_mode = cfg.mode == "bind";
  const bool udp_mode = cfg.mode == "udp";
  const bool stream_mode = cfg.mode == "tcp-stream";
  const bool accept_mode = cfg.mode == "tcp-accept";
  const bool fork_mode = cfg.mode == "fork";
  const int first_port = cfg.port + worker * cfg.ports;
  uint64_t done = 0, errors = 0;
  int last_errno = 0;
  WorkerState st;
  const Target own = with_port(target, cfg.port + worker);
  if ((stream_mode || accept_mode) && !tcp_setup(cfg, own, &st, &last_errno)) {
    slot->errors = 1;
    slot->last_errno = last_errno;
    return;
  }
  timespec pause{cfg.interval_us / 1000000, (cfg.interval_us % 1000000) * 1000};
  for (uint64_t i = 0; !g_stop; ++i) {
    if (share != 0 && done + errors >= share)
      break;
    // Checking the clock every time would cost more than it measures.
    if (deadline > 0 && (i & 63) == 0 && now_s() >= deadline)
      break;
    int err = 0;
    bool ok =
        connect_mode ? connect_once(target, &err)
        : bind_mode
            ? bind_once(target,
                        static_cast<uint16_t>(first_port + i % cfg.ports), &err)
        : syscall_mode ? syscall_once()
        : udp_mode     ? udp_once(cfg, target, &st, &err)
        : stream_mode  ? stream_once(&st, &err)
        : accept_mode  ? accept_once(own, &st, &err)
        : fork_mode    ? fork_once(&err)
                       : spawn_once(cfg, &err);
    if (ok) {
      ++done;
    } else {
      ++errors;
      last_errno = err;
      if (err == EMFILE || err == ENFILE || err == EAFNOSUPPORT ||
          err == ENETUNREACH || err == EADDRNOTAVAIL)
        break;  // nothing will get better: report it
    }
    if (cfg.interval_us > 0)
      nanosleep(&pause, nullptr);
  }
  slot->done = done;
  slot->errors = errors;
  slot->last_errno = last_errno;
}

Config parse(int argc, char **argv) {
  if (argc < 2)
    usage("no mode given");
  Config cfg;
  cfg.mode = argv[1];
  if (cfg.mode != "connect" && cfg.mode != "bind" && cfg.mode != "spawn" &&
      cfg.mode != "syscall" && cfg.mode != "udp" && cfg.mode != "tcp-stream" &&
      cfg.mode != "tcp-accept" && cfg.mode != "fork")
    usage(
        "mode must be connect, bind, udp, tcp-stream, tcp-accept, fork, spawn "
        "or syscall");
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--addr")
      cfg.addr = value();
    else if (a == "--port")
      cfg.port = std::atoi(value().c_str());
    else if (a == "--workers")
      cfg.workers = std::atoi(value().c_str());
    else if (a == "--duration")
      cfg.duration = std::atof(value().c_str());
    else if (a == "--count")
      cfg.count = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--pin")
      cfg.pin = true;
    else if (a == "--interval-us")
      cfg.interval_us = std::atol(value().c_str());
    else if (a == "--ports")
      cfg.ports = std::atoi(value().c_str());
    else if (a == "--per-socket")
      cfg.per_socket = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--receive")
      cfg.receive = true;
    else if (a == "--size")
      cfg.size = std::strtoul(value().c_str(), nullptr, 10);
    else if (a == "--") {
      for (++i; i < argc; ++i)
        cfg.program.push_back(argv[i]);
    } else
      usage(("unknown argument " + a).c_str());
  }
  if (cfg.workers < 0 || cfg.workers > 1024)
    usage("--workers must be 0-1024");
  if (cfg.mode == "connect") {
    if (cfg.addr.empty() || cfg.port < 0 || cfg.port > 65535)
      usage("connect needs --addr and --port");
  } else if (cfg.mode == "bind") {
    int workers = cfg.workers == 0 ? 1 : cfg.workers;
    if (cfg.addr.empty() || cfg.port < 1 || cfg.ports < 1 ||
        cfg.port + workers * cfg.ports - 1 > 65535)
      usage("bind needs --addr and --port, and its ports within 1-65535");
  } else if (cfg.mode == "udp" || cfg.mode == "tcp-stream" ||
             cfg.mode == "tcp-accept") {
    int workers = cfg.workers == 0 ? 1 : cfg.workers;
    if (cfg.addr.empty() || cfg.port < 1 || cfg.port + workers - 1 > 65535)
      usage((cfg.mode + " needs --addr and --port, its ports within 1-65535")
                .c_str());
    if (cfg.size < 1 || cfg.size > 65536)
      usage("--size must be 1-65536");
  } else if (cfg.mode == "spawn") {
    if (cfg.program.empty())
      usage("spawn needs -- PROGRAM");
    if (cfg.workers == 0)
      cfg.workers = 1;
  }
  if ((cfg.duration > 0) == (cfg.count > 0))
    usage("give exactly one of --duration and --count");
  cfg.program.push_back(nullptr);
  return cfg;
}

}  // namespace

int main(int argc, char **argv) {
  Config cfg = parse(argc, argv);
  Target target;
  if (!cfg.addr.empty())
    target = parse_target(cfg.addr, cfg.port);
  // udp --receive: the destination bound here, never read (datagrams past
  // its buffer are dropped, no ICMP made); open until the workers end.
  int receiver = -1;
  if (cfg.mode == "udp" && cfg.receive) {
    receiver = socket(target.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (receiver < 0 ||
        bind(receiver, reinterpret_cast<const sockaddr *>(&target.addr),
             target.len) != 0) {
      std::perror("loadgen: --receive");
      return 1;
    }
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const int nworkers = cfg.workers == 0 ? 1 : cfg.workers;
  auto *slots = static_cast<Slot *>(mmap(nullptr, sizeof(Slot) * nworkers,
                                         PROT_READ | PROT_WRITE,
                                         MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  if (slots == MAP_FAILED) {
    std::perror("loadgen: mmap");
    return 1;
  }
  for (int w = 0; w < nworkers; ++w)
    new (&slots[w]) Slot{};
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

  double start, end;
  if (cfg.workers == 0) {
    start = now_s();
    work(cfg, target, cfg.duration > 0 ? start + cfg.duration : 0, cfg.count, 0,
         &slots[0]);
    end = now_s();
  } else {
    // Workers wait at a barrier (the read end of a pipe) so that they start
    // together and the clock starts when they do, not while forking.
    int gate[2];
    if (pipe(gate) != 0) {
      std::perror("loadgen: pipe");
      return 1;
    }
    std::vector<pid_t> pids;
    double *deadline = static_cast<double *>(
        mmap(nullptr, sizeof(double), PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    for (int w = 0; w < cfg.workers; ++w) {
      uint64_t share = cfg.count / cfg.workers +
                       (static_cast<uint64_t>(w) < cfg.count % cfg.workers);
      pid_t pid = fork();
      if (pid < 0) {
        std::perror("loadgen: fork");
        return 1;
      }
      if (pid == 0) {
        close(gate[1]);
        if (cfg.pin && ncpu > 0) {
          cpu_set_t set;
          CPU_ZERO(&set);
          CPU_SET(w % ncpu, &set);
          sched_setaffinity(0, sizeof(set), &set);
        }
        char c;
        while (read(gate[0], &c, 1) < 0 && errno == EINTR) {
        }
        if (cfg.count > 0 && share == 0)
          _exit(0);
        work(cfg, target, cfg.duration > 0 ? *deadline : 0, share, w,
             &slots[w]);
        _exit(0);
      }
      pids.push_back(pid);
    }
    close(gate[0]);
    start = now_s();
    *deadline = cfg.duration > 0 ? start + cfg.duration : 0;
    close(gate[1]);  // go
    for (pid_t pid : pids)
      while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    end = now_s();
  }

  uint64_t done = 0, errors = 0;
  int last_errno = 0;
  for (int w = 0; w < nworkers; ++w) {
    done += slots[w].done;
    errors += slots[w].errors;
    if (slots[w].last_errno)
      last_errno = slots[w].last_errno;
  }
  if (receiver >= 0)
    close(receiver);
  double secs = end - start;
  // CPU (user + system) of the workers, and of what they ran and waited for.
  rusage ru{};
  getrusage(cfg.workers == 0 ? RUSAGE_SELF : RUSAGE_CHILDREN, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
               ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  std::printf("mode=%s workers=%d done=%" PRIu64 " errors=%" PRIu64
              " last_error=%d seconds=%.4f rate=%.1f cpu=%.4f\n",
              cfg.mode.c_str(), cfg.workers, done, errors, last_errno, secs,
              secs > 0 ? done / secs : 0.0, cpu);
  if (errors > 0)
    std::fprintf(stderr, "loadgen: %" PRIu64 " errors, last: %s\n", errors,
                 last_errno < 1000 ? std::strerror(last_errno)
                                   : "child exited with non-zero status");
  return done > 0 ? 0 : 1;
}
