#include "kernel/probe.h"

#include <bcc/BPF.h>
#include <bcc/libbpf.h>
#include <sys/mman.h>
#include <unistd.h>

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

// BCC and LLVM write notes (and, on failure, compiler errors and verifier
// logs) straight to fd 2. Hold them while a step runs: on success they are
// noise, on failure they are the details behind our one-line error.
class StderrCapture {
 public:
  StderrCapture() {
    std::fflush(stderr);
    fd_ = memfd_create("pidtree-bcc-stderr", MFD_CLOEXEC);
    saved_ = fd_ >= 0 ? dup(STDERR_FILENO) : -1;
    if (saved_ >= 0)
      dup2(fd_, STDERR_FILENO);
  }
  ~StderrCapture() { finish(false); }
  // Restores stderr; replays what was held when `replay` is set.
  void finish(bool replay) {
    if (saved_ < 0)
      return;
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
};

}  // namespace

ConnectProbe::ConnectProbe() : bpf_(std::make_unique<ebpf::BPF>()) {}

ConnectProbe::~ConnectProbe() { detach(); }

std::string ConnectProbe::compile(const std::string &program) {
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

bool ConnectProbe::update(const char *map, const void *key, const void *value) {
  int fd = bpf_->get_table(map).get_fd();
  return fd >= 0 && bpf_update_elem(fd, const_cast<void *>(key),
                                    const_cast<void *>(value), 0) == 0;
}

bool ConnectProbe::erase(const char *map, const void *key) {
  int fd = bpf_->get_table(map).get_fd();
  return fd >= 0 && bpf_delete_elem(fd, const_cast<void *>(key)) == 0;
}

std::string ConnectProbe::attach(const ProgramShape &shape) {
  StderrCapture capture;
  std::string err = attach_probes(shape);
  capture.finish(!err.empty());
  return err;
}

std::string ConnectProbe::attach_tracepoint(const std::string &category,
                                            const std::string &name) {
  std::string tracepoint = category + ":" + name;
  auto status = bpf_->attach_tracepoint(
      tracepoint, "tracepoint__" + category + "__" + name);
  if (!status.ok())
    return with_hint("cannot attach to " + tracepoint, status.msg());
  tracepoints_.push_back(tracepoint);
  return "";
}

std::string ConnectProbe::attach_probes(const ProgramShape &shape) {
  std::string err;
  // Process events first: the table must not miss a fork that precedes a
  // connect the connect probe reports.
  if (shape.process_events && !shape.argv_offsets)
    for (const char *name :
         {"sys_enter_execve", "sys_enter_execveat", "sys_exit_execve",
          "sys_exit_execveat", "sys_exit_setuid", "sys_exit_setreuid",
          "sys_exit_setresuid"})
      if (!(err = attach_tracepoint("syscalls", name)).empty())
        return err;
  if (shape.process_events) {
    if (!(err = attach_tracepoint("task", "task_newtask")).empty() ||
        !(err = attach_tracepoint("sched", "sched_process_exec")).empty() ||
        !(err = attach_tracepoint("sched", "sched_process_exit")).empty())
      return err;
  }
  if (shape.raw_connect_tracepoint()) {
    auto status = bpf_->attach_raw_tracepoint(
        "inet_sock_set_state", "raw_tracepoint__inet_sock_set_state");
    if (!status.ok())
      return with_hint("cannot attach to sock:inet_sock_set_state (raw)",
                       status.msg());
    raw_tracepoints_.push_back("inet_sock_set_state");
    return "";
  }
  if (shape.backend == Backend::kTracepoint)
    return attach_tracepoint("sock", "inet_sock_set_state");
  struct Probe {
    const char *func, *fn;
    bpf_probe_attach_type type;
  };
  for (const Probe &p :
       {Probe{"tcp_v4_connect", "pidtree_v4_entry", BPF_PROBE_ENTRY},
        Probe{"tcp_v4_connect", "pidtree_return", BPF_PROBE_RETURN},
        Probe{"tcp_v6_connect", "pidtree_v6_entry", BPF_PROBE_ENTRY},
        Probe{"tcp_v6_connect", "pidtree_return", BPF_PROBE_RETURN}}) {
    auto status = bpf_->attach_kprobe(p.func, p.fn, 0, p.type);
    if (!status.ok())
      return with_hint(std::string("cannot attach a kprobe to ") + p.func,
                       status.msg());
    kprobes_.emplace_back(p.func, p.type);
  }
  return "";
}

std::string ConnectProbe::open_buffer(unsigned pages, unsigned wakeup_events,
                                      SampleFn on_sample, LostFn on_lost) {
  on_sample_ = std::move(on_sample);
  on_lost_ = std::move(on_lost);
  auto status = bpf_->open_perf_buffer("events", &ConnectProbe::sample_cb,
                                       &ConnectProbe::lost_cb, this,
                                       static_cast<int>(pages));
  // BPF::open_perf_buffer always asks for a wake-up per event; reopen the
  // per-CPU readers (nothing is attached yet) with the batch size.
  auto *buffer = bpf_->get_perf_buffer("events");
  if (status.ok() && wakeup_events > 1 && buffer) {
    status = buffer->close_all_cpu();
    if (status.ok())
      status = buffer->open_all_cpu(
          &ConnectProbe::sample_cb, &ConnectProbe::lost_cb, this,
          static_cast<int>(pages), static_cast<int>(wakeup_events));
  }
  if (!status.ok())
    return with_hint("cannot open the perf buffer", status.msg());
  return "";
}

void ConnectProbe::release_compiler_memory() {
  bpf_->free_bcc_memory();
  release_compiler_pages();
}

int ConnectProbe::poll(int timeout_ms) {
  return bpf_->poll_perf_buffer("events", timeout_ms);
}

void ConnectProbe::drain() {
  if (auto *buffer = bpf_->get_perf_buffer("events"))
    buffer->consume();
}

void ConnectProbe::detach() {
  // One call per probe: bcc 0.26's detach_all() leaves its bookkeeping in
  // place, so the destructor would detach (and free) everything twice.
  // The connect probes go first, so no connect is reported without the
  // process events that precede it.
  for (const auto &kprobe : kprobes_)
    bpf_->detach_kprobe(kprobe.first,
                        static_cast<bpf_probe_attach_type>(kprobe.second));
  kprobes_.clear();
  for (const auto &name : raw_tracepoints_)
    bpf_->detach_raw_tracepoint(name);
  raw_tracepoints_.clear();
  for (auto it = tracepoints_.rbegin(); it != tracepoints_.rend(); ++it)
    bpf_->detach_tracepoint(*it);
  tracepoints_.clear();
}

void ConnectProbe::sample_cb(void *cookie, void *data, int size) {
  auto *self = static_cast<ConnectProbe *>(cookie);
  if (size > 0)
    self->on_sample_(data, static_cast<size_t>(size));
}

void ConnectProbe::lost_cb(void *cookie, uint64_t count) {
  static_cast<ConnectProbe *>(cookie)->on_lost_(count);
}

}  // namespace pidtree
