#include "kernel/bpf_program.h"

#include <bcc/BPF.h>
#include <bcc/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "kernel/cgroup.h"
#include "kernel/kallsyms.h"
#include "kernel/memory.h"

namespace pidtree {

namespace {

// BCC's messages can span lines; keep the first meaningful one.
std::string first_line(const std::string &text) {
  std::string line = text.substr(0, text.find('\n'));
  return line.empty() ? "unknown error" : line;
}

std::string with_hint(const std::string &what, const std::string &msg) {
  std::string hint;
  if (msg.find("Operation not permitted") != std::string::npos ||
      msg.find("Permission denied") != std::string::npos ||
      msg.find(": -13") != std::string::npos ||
      msg.find(": -1") != std::string::npos)
    hint = " (run as root, or with CAP_BPF and CAP_PERFMON)";
  else if (msg.find("Function not implemented") != std::string::npos)
    hint = " (this kernel was built without BPF support)";
  return what + ": " + first_line(msg) + hint;
}

// The held stderr and the real one, for replay_on_abort().
volatile sig_atomic_t g_held_fd = -1;
volatile sig_atomic_t g_saved_fd = -1;

// LLVM ends the process on an internal error, after writing "LLVM ERROR:"
// to the held stderr: show that (and say what it means) before dying as
// LLVM meant to. Only async-signal-safe calls here.
void replay_on_abort(int sig) {
  int held = g_held_fd;
  int saved = g_saved_fd;
  if (held >= 0 && saved >= 0) {
    char buf[4096];
    ssize_t n;
    lseek(held, 0, SEEK_SET);
    while ((n = read(held, buf, sizeof(buf))) > 0)
      if (write(saved, buf, static_cast<size_t>(n)) < 0)
        break;
    static const char kWhat[] =
        "pidtree-bcc: the BPF compiler gave up on the generated program "
        "(the line above says why); this is a bug in pidtree-bcc, please "
        "report it with that line\n";
    if (write(saved, kWhat, sizeof(kWhat) - 1) < 0) {
    }
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

// BCC and LLVM write notes (and, on failure, compiler errors and verifier
// logs) straight to fd 2. Hold them while a step runs: on success they are
// noise, on failure they are the details behind our one-line error.
class StderrCapture {
 public:
  StderrCapture() {
    std::fflush(stderr);
    fd_ = memfd_create("pidtree-bcc-stderr", MFD_CLOEXEC);
    saved_ = fd_ >= 0 ? dup(STDERR_FILENO) : -1;
    if (saved_ < 0)
      return;
    dup2(fd_, STDERR_FILENO);
    g_held_fd = fd_;
    g_saved_fd = saved_;
    struct sigaction on_abort = {};
    on_abort.sa_handler = replay_on_abort;
    sigemptyset(&on_abort.sa_mask);
    sigaction(SIGABRT, &on_abort, &old_abort_);
  }
  ~StderrCapture() { finish(false); }
  // Restores stderr; replays what was held when `replay` is set.
  void finish(bool replay) {
    if (saved_ < 0)
      return;
    sigaction(SIGABRT, &old_abort_, nullptr);
    g_held_fd = -1;
    g_saved_fd = -1;
    std::fflush(stderr);
    dup2(saved_, STDERR_FILENO);
    close(saved_);
    saved_ = -1;
    if (replay) {
      char buf[8192];
      ssize_t n;
      lseek(fd_, 0, SEEK_SET);
      while ((n = read(fd_, buf, sizeof(buf))) > 0)
        if (write(STDERR_FILENO, buf, static_cast<size_t>(n)) < 0)
          break;
    }
    close(fd_);
  }

 private:
  int fd_ = -1;
  int saved_ = -1;
  struct sigaction old_abort_ = {};
};

}  // namespace

BpfProgram::BpfProgram() : bpf_(std::make_unique<ebpf::BPF>()) {}

BpfProgram::~BpfProgram() { detach(); }

std::string BpfProgram::compile(const std::string &program) {
  StderrCapture capture;
  ebpf::StatusTuple status(0);
  auto init = [&] { status = bpf_->init(program); };
  // BCC would load all of /proc/kallsyms for two symbols (see kallsyms.h).
  // If the short file cannot be set up, the compile is only slower.
  std::string lines;
  if (read_ksym_lines("/proc/kallsyms", kBccKsyms, &lines))
    run_with_kallsyms(lines, init);
  else
    init();
  capture.finish(!status.ok());
  if (!status.ok())
    return with_hint("cannot compile and load the BPF program", status.msg());
  return "";
}

int BpfProgram::map_fd(const char *map) {
  std::lock_guard<std::mutex> lock(fds_mutex_);
  auto it = fds_.find(map);
  if (it != fds_.end())
    return it->second;
  int fd = bpf_->get_table(map).get_fd();
  fds_[map] = fd;
  return fd;
}

bool BpfProgram::update(const char *map, const void *key, const void *value) {
  int fd = map_fd(map);
  return fd >= 0 && bpf_update_elem(fd, const_cast<void *>(key),
                                    const_cast<void *>(value), 0) == 0;
}

bool BpfProgram::erase(const char *map, const void *key) {
  int fd = map_fd(map);
  return fd >= 0 && bpf_delete_elem(fd, const_cast<void *>(key)) == 0;
}

bool BpfProgram::lookup(const char *map, const void *key, void *value) {
  int fd = map_fd(map);
  return fd >= 0 && bpf_map_lookup_elem(fd, key, value) == 0;
}

bool BpfProgram::next_key(const char *map, const void *key, void *next) {
  int fd = map_fd(map);
  return fd >= 0 && bpf_map_get_next_key(fd, key, next) == 0;
}

bool BpfProgram::lookup_and_delete(const char *map, const void *key,
                                   void *value) {
  int fd = map_fd(map);
  return fd >= 0 && bpf_map_lookup_and_delete_elem(fd, key, value) == 0;
}

bool BpfProgram::sum_percpu(const char *map, uint32_t index, uint64_t *sum) {
  int fd = map_fd(map);
  int cpus = libbpf_num_possible_cpus();
  if (fd < 0 || cpus <= 0)
    return false;
  // A per-CPU value comes back as one 8-byte-aligned slot per possible CPU.
  std::vector<uint64_t> values(static_cast<size_t>(cpus));
  if (bpf_map_lookup_elem(fd, &index, values.data()) != 0)
    return false;
  uint64_t total = 0;
  for (uint64_t v : values)
    total += v;
  *sum = total;
  return true;
}

std::string BpfProgram::attach(const std::vector<Hook> &hooks) {
  StderrCapture capture;
  std::string err;
  for (const Hook &hook : hooks)
    if (!(err = attach_one(hook)).empty())
      break;
  capture.finish(!err.empty());
  return err;
}

std::string BpfProgram::attach_one(const Hook &hook) {
  Attached done{hook, -1};
  ebpf::StatusTuple status(0);
  switch (hook.type) {
    case HookType::kTracepoint:
      status = bpf_->attach_tracepoint(hook.target, hook.function);
      break;
    case HookType::kRawTracepoint:
      status = bpf_->attach_raw_tracepoint(hook.target, hook.function);
      break;
    case HookType::kKprobe:
    case HookType::kKretprobe:
      status = bpf_->attach_kprobe(
          hook.target, hook.function, 0,
          hook.type == HookType::kKprobe ? BPF_PROBE_ENTRY : BPF_PROBE_RETURN);
      break;
    case HookType::kCgroup: {
      if (cgroup_fd_ < 0) {
        std::string where, why;
        cgroup_fd_ = open_cgroup2_root(&where, &why);
        if (cgroup_fd_ < 0)
          return "cannot attach to the " + describe(hook) + ": " + why;
      }
      int prog_fd = -1;
      status = bpf_->load_func(hook.function, hook.prog_type, prog_fd, 0,
                               hook.attach_type);
      if (!status.ok())
        // Privileges were checked before: the verifier said no, and its
        // log is on stderr.
        return "cannot load " + hook.function + " for the " + describe(hook) +
               ": " + first_line(status.msg()) +
               " (the kernel's verifier refused it; its log is above)";
      // A link, not bpf_prog_attach(): it goes with the tracer's last
      // reference to it, even on SIGKILL, so the program can never stay
      // on the host's path after the tracer.
      done.link_fd =
          bpf_link_create(prog_fd, cgroup_fd_, hook.attach_type, nullptr);
      if (done.link_fd < 0)
        return with_hint("cannot attach to the " + describe(hook),
                         std::strerror(errno));
      break;
    }
  }
  if (!status.ok())
    return with_hint("cannot attach to the " + describe(hook), status.msg());
  attached_.push_back(std::move(done));
  return "";
}

std::string BpfProgram::open_buffer(unsigned pages, unsigned wakeup_events,
                                    SampleFn on_sample, LostFn on_lost) {
  on_sample_ = std::move(on_sample);
  on_lost_ = std::move(on_lost);
  auto status = bpf_->open_perf_buffer("events", &BpfProgram::sample_cb,
                                       &BpfProgram::lost_cb, this,
                                       static_cast<int>(pages));
  // BPF::open_perf_buffer always asks for a wake-up per event; reopen the
  // per-CPU readers (nothing is attached yet) with the batch size.
  auto *buffer = bpf_->get_perf_buffer("events");
  if (status.ok() && wakeup_events > 1 && buffer) {
    status = buffer->close_all_cpu();
    if (status.ok())
      status = buffer->open_all_cpu(
          &BpfProgram::sample_cb, &BpfProgram::lost_cb, this,
          static_cast<int>(pages), static_cast<int>(wakeup_events));
  }
  if (!status.ok())
    return with_hint("cannot open the perf buffer", status.msg());
  return "";
}

void BpfProgram::release_compiler_memory() {
  bpf_->free_bcc_memory();
  release_compiler_pages();
}

int BpfProgram::poll(int timeout_ms) {
  return bpf_->poll_perf_buffer("events", timeout_ms);
}

void BpfProgram::drain() {
  if (auto *buffer = bpf_->get_perf_buffer("events"))
    buffer->consume();
}

void BpfProgram::detach() {
  // One call per hook: bcc 0.26's detach_all() leaves its bookkeeping in
  // place, so the destructor would detach (and free) everything twice.
  // The probes' hooks go first, so no event is reported without the
  // process events that precede it.
  for (auto it = attached_.rbegin(); it != attached_.rend(); ++it) {
    const Hook &hook = it->hook;
    switch (hook.type) {
      case HookType::kTracepoint:
        bpf_->detach_tracepoint(hook.target);
        break;
      case HookType::kRawTracepoint:
        bpf_->detach_raw_tracepoint(hook.target);
        break;
      case HookType::kKprobe:
      case HookType::kKretprobe:
        bpf_->detach_kprobe(hook.target, hook.type == HookType::kKprobe
                                             ? BPF_PROBE_ENTRY
                                             : BPF_PROBE_RETURN);
        break;
      case HookType::kCgroup:
        ::close(it->link_fd);
        break;
    }
  }
  attached_.clear();
  if (cgroup_fd_ >= 0) {
    ::close(cgroup_fd_);
    cgroup_fd_ = -1;
  }
}

void BpfProgram::sample_cb(void *cookie, void *data, int size) {
  auto *self = static_cast<BpfProgram *>(cookie);
  if (size > 0)
    self->on_sample_(data, static_cast<size_t>(size));
}

void BpfProgram::lost_cb(void *cookie, uint64_t count) {
  static_cast<BpfProgram *>(cookie)->on_lost_(count);
}

}  // namespace pidtree
