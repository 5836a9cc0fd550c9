// pidtree-bcc: parse options, check the system, load and attach the probe,
// then poll until a signal or a closed output ends the run.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>

#include "process/ancestry.h"
#include "kernel/btf.h"
#include "common/clock.h"
#include "config/config.h"
#include "config/config_reload.h"
#include "kernel/filter_maps.h"
#include "config/options.h"
#include "output/output.h"
#include "kernel/preflight.h"
#include "kernel/probe.h"
#include "process/process_table.h"
#include "process/procfs.h"
#include "kernel/program.h"
#include "pipeline/tracer.h"
#include "process/users.h"

namespace {

volatile sig_atomic_t g_exiting = 0;
volatile sig_atomic_t g_reload = 0;

void on_signal(int) { g_exiting = 1; }
void on_sighup(int) { g_reload = 1; }

// How long after its time stamp an event is certainly in the perf buffer:
// the BPF program stamps it and writes it within microseconds.
constexpr int64_t kReorderWindowNs = 5'000'000;
// The kernel wakes the reader once per this many events on a CPU, not once
// per event: each wake-up is a self-interrupt in the connecting process,
// which at full rate cost it a third of its connect throughput.
constexpr unsigned kWakeupEvents = 512;
// So a quiet CPU's last few events are found by polling at least this often
// (the latency of an event at a low rate, plus kReorderWindowNs).
constexpr int kIdlePollMs = 25;
// While events are held for the reorder window.
constexpr int kHeldPollMs = 10;
// How often to ask whether the reader of the output pipe is gone (a poll()
// of its own; a write to a closed pipe says so anyway).
constexpr auto kReaderCheckInterval = std::chrono::milliseconds(100);

// Output into a pipe (`| jq`): a 1 MiB buffer instead of 64 KiB absorbs
// bursts, and the tracer and its reader take turns far less often. Best
// effort: never shrinks the pipe, and a refusal changes nothing else.
void widen_pipe(int fd) {
  constexpr int kPipeBytes = 1 << 20;
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode))
    return;
  int size = fcntl(fd, F_GETPIPE_SZ);
  if (size >= 0 && size < kPipeBytes)
    fcntl(fd, F_SETPIPE_SZ, kPipeBytes);
}

unsigned online_cpus() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<unsigned>(n) : 1;
}

// What the kernel's BTF gives the program: where exec's argv lies, for
// the process table, and where a socket's addresses lie, for the tracepoint
// backend's raw tracepoint.
struct KernelOffsets {
  std::optional<pidtree::ArgvOffsets> argv;
  std::optional<pidtree::SockOffsets> sock;
};

pidtree::ProgramShape program_shape(pidtree::Backend backend,
                                    const pidtree::Options &opt,
                                    const pidtree::KernelFeatures &kernel,
                                    const KernelOffsets &offsets) {
  pidtree::ProgramShape shape = pidtree::shape_for(backend, opt.filters);
  shape.process_events = opt.ancestry == pidtree::AncestrySource::kTable;
  shape.have_group_dead = kernel.exit_has_group_dead();
  if (shape.process_events)
    shape.argv_offsets = offsets.argv;
  if (backend == pidtree::Backend::kTracepoint)
    shape.sock_offsets = offsets.sock;
  return shape;
}

// Reads the offsets `backend` and the options need, parsing the BTF once
// (or not at all). "" or a one-line error: argv from memory asked for, and
// no usable BTF. Without BTF, argv is read at execve() through syscall
// tracepoints (with a note: they slow every syscall) and the tracepoint
// backend reads the classic tracepoint's record.
std::string read_offsets(const pidtree::Options &opt, pidtree::Backend backend,
                         KernelOffsets *out) {
  using pidtree::ExecArgv;
  *out = {};
  const bool want_argv = opt.ancestry == pidtree::AncestrySource::kTable &&
                         opt.exec_argv != ExecArgv::kSyscall;
  const bool want_sock = backend == pidtree::Backend::kTracepoint;
  if (!want_argv && !want_sock)
    return "";
  pidtree::KernelBtf btf(pidtree::kKernelBtf);
  std::string why;
  if (want_sock)
    out->sock = btf.sock_offsets(&why);
  if (!want_argv || (out->argv = btf.argv_offsets(&why)))
    return "";
  if (opt.exec_argv == ExecArgv::kMemory)
    return "--exec-argv memory needs the kernel's BTF: " + why +
           " (try --exec-argv syscall)";
  std::fprintf(stderr,
               "pidtree-bcc: note: %s; command lines are read at execve() "
               "through syscall tracepoints, which slow every syscall\n",
               why.c_str());
  return "";
}

int fail(const std::string &message, int code = 1) {
  std::fprintf(stderr, "pidtree-bcc: error: %s\n", message.c_str());
  return code;
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  // No SA_RESTART: a signal must cut the perf-buffer poll short.
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sa.sa_handler = on_sighup;
  sigaction(SIGHUP, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a closed output shows up as EPIPE
}

}  // namespace

int main(int argc, char **argv) {
  using namespace pidtree;
  ParseResult parsed = parse_options(argc, argv);
  if (parsed.action == ParseResult::Action::kExit) {
    std::fputs(parsed.out.c_str(), stdout);
    if (!parsed.err.empty())
      std::fprintf(stderr, "%s\n", parsed.err.c_str());
    return parsed.exit_code;
  }
  Options &opt = parsed.options;
  KernelFeatures kernel;

  // The configuration file is input like the flags: refused with status 2.
  FileConfig file_config;
  if (!opt.config_file.empty()) {
    try {
      file_config = load_config(opt.config_file);
      opt.filters = combine_filters(&file_config, opt.cli_filters);
    } catch (const std::exception &e) {
      return fail(e.what(), 2);
    }
    for (const auto &note : file_config.notes)
      std::fprintf(stderr, "pidtree-bcc: note: %s\n", note.c_str());
  }

  std::string err;
  KernelOffsets offsets;
  if (opt.print_and_quit) {
    Backend backend = opt.backend;
    if (backend == Backend::kAuto) {
      try {
        backend = resolve_backend(Backend::kAuto, kernel);
      } catch (const std::exception &) {
        backend = Backend::kTracepoint;  // nothing to attach when printing
      }
    }
    if (!(err = read_offsets(opt, backend, &offsets)).empty())
      return fail(err);
    std::cout << build_program(program_shape(backend, opt, kernel, offsets));
    return 0;
  }

  if (!(err = check_privileges()).empty())
    return fail(err);
  if (!(err = ensure_tracefs(kernel)).empty())
    return fail(err);
  Backend backend;
  try {
    backend = resolve_backend(opt.backend, kernel);
  } catch (const std::exception &e) {
    return fail(e.what());
  }
  if (!(err = check_kernel_headers(kernel, kernel_release())).empty())
    return fail(err);
  if (!(err = read_offsets(opt, backend, &offsets)).empty())
    return fail(err);

  int out_fd = STDOUT_FILENO;
  if (opt.output_file != "-") {
    out_fd = ::open(opt.output_file.c_str(),
                    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (out_fd < 0)
      return fail("cannot open output file '" + opt.output_file +
                  "': " + std::strerror(errno));
  }
  widen_pipe(out_fd);
  install_signal_handlers();

  OutputSink sink(out_fd);
  SystemClock clock;
  ProcFs procfs;
  PasswdUserDb users;
  ProcessTable table(opt.max_exited);
  ProcAncestry proc_ancestry(procfs, users);
  TableAncestry table_ancestry(table, procfs, users);
  const bool use_table = opt.ancestry == AncestrySource::kTable;
  Tracer tracer(use_table ? static_cast<AncestryResolver &>(table_ancestry)
                          : proc_ancestry,
                users, clock, sink, use_table ? &table_ancestry : nullptr);

  ConnectProbe probe;
  const ProgramShape shape = program_shape(backend, opt, kernel, offsets);
  if (!(err = probe.compile(build_program(shape))).empty())
    return fail(err);
  FilterMaps filter_maps(probe);
  if (!(err = filter_maps.apply(opt.filters)).empty())
    return fail(err);
  ConfigReloader reloader(opt.config_file, opt.cli_filters, opt.watch_config,
                          filter_maps, sink, clock);
  if (!opt.config_file.empty())
    reloader.start(file_config);
  if (!(err = probe.open_buffer(
            opt.perf_pages ? opt.perf_pages
                           : pidtree::default_perf_pages(online_cpus()),
            kWakeupEvents,
            [&tracer](const void *d, size_t n) { tracer.on_sample(d, n); },
            [&tracer](uint64_t n) { tracer.on_lost(n); }))
           .empty())
    return fail(err);
  if (!(err = probe.attach(shape)).empty())
    return fail(err);
  probe.release_compiler_memory();
  // After attaching: a process either is in the scan or its fork event
  // follows, and the events are only handled once the scan is in.
  if (use_table)
    table_ancestry.seed();
  std::fprintf(stderr,
               "pidtree-bcc: tracing TCP connects with the %s backend; "
               "Ctrl-C to stop\n",
               backend_name(backend));

  bool output_ok = true;
  uint64_t lost_at_resync = 0;
  auto last_resync = std::chrono::steady_clock::now();
  auto last_reader_check = last_resync;
  while (!g_exiting && output_ok) {
    tracer.begin_batch();
    // Held events wait for the next watermark: come back soon for them.
    int rc = probe.poll(tracer.held() ? kHeldPollMs : kIdlePollMs);
    if (rc < 0 && errno != EINTR)
      return fail(std::string("polling the perf buffer failed: ") +
                  std::strerror(errno));
    // Everything stamped before the watermark is in the buffers once they
    // are drained, so it can be handled in time order.
    int64_t watermark = clock.boottime_ns() - kReorderWindowNs;
    probe.drain();
    if (g_reload) {
      g_reload = 0;
      if (opt.config_file.empty())
        std::fprintf(stderr,
                     "pidtree-bcc: SIGHUP: no configuration file to reload "
                     "(see --config)\n");
      else
        reloader.request();
    }
    if (!opt.config_file.empty())
      reloader.poll();
    output_ok = tracer.end_batch(static_cast<uint64_t>(watermark));
    auto now = std::chrono::steady_clock::now();
    if (output_ok && now - last_reader_check >= kReaderCheckInterval) {
      output_ok = !sink.reader_gone();
      last_reader_check = now;
    }
    // Lost events may include exits: drop processes that are gone.
    if (use_table && tracer.lost() != lost_at_resync &&
        now - last_resync > std::chrono::seconds(10)) {
      table_ancestry.resync();
      lost_at_resync = tracer.lost();
      last_resync = now;
    }
  }
  probe.detach();
  if (output_ok) {
    // Events already in the buffer when the signal came are still written.
    tracer.begin_batch();
    probe.drain();
    output_ok = tracer.end_batch();
  }
  if (!output_ok && sink.failed() && sink.error() != EPIPE)
    return fail(std::string("writing output failed: ") +
                std::strerror(sink.error()));
  return 0;
}
