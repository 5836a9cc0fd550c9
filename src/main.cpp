// pidtree-bcc: parse options, check the system, build and load the enabled
// probes' program, attach it, then poll until a signal or a closed output
// ends the run. Each stage lives in its folder: config/ (flags, file,
// reload), probes/ (the probes), kernel/ (program, loading, hooks),
// pipeline/ (decode -> order -> ancestry -> enrich -> output), process/
// (the process table), enrich/ (containers, container_labels, plugins),
// output/ (lines and the sink).
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>

#include "common/clock.h"
#include "config/config.h"
#include "config/config_reload.h"
#include "config/options.h"
#include "config/remote.h"
#include "enrich/containers.h"
#include "enrich/enricher.h"
#include "kernel/bpf_program.h"
#include "kernel/cgroup.h"
#include "kernel/preflight.h"
#include "kernel/privileges.h"
#include "kernel/shape.h"
#include "output/output.h"
#include "output/text.h"
#include "pipeline/event_loop.h"
#include "pipeline/supervisor.h"
#include "pipeline/tracer.h"
#include "probes/probe_set.h"
#include "probes/registry.h"
#include "process/ancestry.h"
#include "process/process_table.h"
#include "process/procfs.h"
#include "process/users.h"

namespace {

volatile sig_atomic_t g_exiting = 0;
volatile sig_atomic_t g_reload = 0;

void on_signal(int) { g_exiting = 1; }
void on_sighup(int) { g_reload = 1; }

// The kernel wakes the reader once per this many events on a CPU, not once
// per event: each wake-up is a self-interrupt in the connecting process,
// which at full rate cost it a third of its connect throughput.
constexpr unsigned kWakeupEvents = 512;

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

// The tracer's own network namespace (net_listen's same_namespace_only),
// from /proc/self: pid 1's may be unreadable.
uint32_t own_netns() {
  struct stat st {};
  return stat("/proc/self/ns/net", &st) == 0 ? static_cast<uint32_t>(st.st_ino)
                                             : 0;
}

// Where the cgroup v2 tree is mounted ("" if nowhere): containers are
// found there.
std::string cgroup2_mount() {
  std::string text;
  bool cut = false;
  if (pidtree::read_file("/proc/self/mountinfo", 1 << 22, &text, &cut) !=
      pidtree::FileRead::kOk)
    return "";
  return pidtree::find_cgroup2_root(text);
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
  // With -w, a supervisor keeps what a restart needs (pipeline/
  // supervisor.h) and runs the tracer below as its child.
  if (opt.watch_config && !opt.print_and_quit) {
    int status = supervise(argv);
    if (status >= 0)
      return status;
  }
  KernelFeatures kernel;

  // The configuration file is input like the flags: refused with status 2.
  // Remote includes are fetched here and again every interval.
  SystemClock clock;
  FetchOptions fetch_options;
  fetch_options.timeout = std::chrono::seconds(opt.remote_include_timeout_s);
  fetch_options.ca_file = opt.remote_include_ca;
  std::unique_ptr<Fetcher> fetcher = make_curl_fetcher(fetch_options);
  RemoteIncludes remote(*fetcher, clock,
                        std::chrono::seconds(opt.remote_include_interval_s));
  FileConfig file_config;
  const bool have_file = !opt.config_file.empty();
  if (have_file) {
    try {
      file_config = load_config(opt.config_file, &remote);
    } catch (const std::exception &e) {
      return fail(e.what(), 2);
    }
    for (const auto &note : file_config.notes)
      std::fprintf(stderr, "pidtree-bcc: note: %s\n", note.c_str());
  }

  std::string err;
  if (!opt.print_and_quit) {
    if (!(err = check_privileges()).empty() ||
        !(err = ensure_tracefs(kernel)).empty())
      return fail(err);
  }
  Backend backend = opt.backend;
  try {
    backend = resolve_backend(opt.backend, kernel);
  } catch (const std::exception &e) {
    if (!opt.print_and_quit)
      return fail(e.what());
    // Nothing is attached when printing: the backend asked for, or the
    // tracepoint one.
    if (backend == Backend::kAuto)
      backend = Backend::kTracepoint;
  }
  std::unique_ptr<ProbeSet> probes;
  try {
    probes = std::make_unique<ProbeSet>(
        make_probes(opt, have_file ? &file_config : nullptr, backend,
                    own_netns()),
        opt.flood_budget);
  } catch (const std::exception &e) {
    return fail(e.what(), 2);
  }
  if (!opt.print_and_quit &&
      !(err = check_kernel_headers(kernel, kernel_release())).empty())
    return fail(err);
  ProgramShape shape;
  if (!(err =
            kernel_shape(opt, backend, kernel, probes->reads_sockets(), &shape))
           .empty() ||
      !(err = probes->check(shape)).empty())
    return fail(err);
  if (!opt.print_and_quit)
    for (const auto &note : probes->blind_spots(shape))
      std::fprintf(stderr, "pidtree-bcc: note: %s\n", note.c_str());
  const ProgramBuilder program = probes->build(shape);
  if (opt.print_and_quit) {
    std::cout << program.text();
    return 0;
  }

  int out_fd = STDOUT_FILENO;
  std::unique_ptr<OutputFile> out_file;
  if (opt.output_file != "-") {
    out_file = std::make_unique<OutputFile>(opt.output_file,
                                            opt.output_follow_symlink);
    if ((out_fd = out_file->open(&err)) < 0)
      return fail(err);
  }
  widen_pipe(out_fd);
  install_signal_handlers();

  OutputSink sink(out_fd);
  const TextView text_view(want_colour(out_fd));
  if (opt.format == OutputFormat::kText)
    sink.set_view(&text_view);
  ProcFs procfs;
  PasswdUserDb users;
  ProcessTable table(opt.max_exited);
  ProcAncestry proc_ancestry(procfs, users);
  TableAncestry table_ancestry(table, procfs, users);
  table_ancestry.set_loginuid_from_kernel(shape.task_loginuid.has_value());
  const bool use_table = opt.ancestry == AncestrySource::kTable;
  Tracer tracer(use_table ? static_cast<AncestryResolver &>(table_ancestry)
                          : proc_ancestry,
                users, clock, sink, use_table ? &table_ancestry : nullptr);

  for (EventStage *stage : probes->stages())
    tracer.add_stage(stage);

  // The enrich stage: containers from the runtimes' state, each probe's
  // container_labels and plugins (a plugin that cannot start is an error
  // of the configuration).
  const std::string cgroup_root = cgroup2_mount();
  CgroupFs cgroups(cgroup_root);
  RuntimeFiles runtimes(RuntimeFiles::Roots{});
  ContainerRegistry containers(cgroups, runtimes);
  Enricher enricher(cgroup_root.empty() ? nullptr : &containers);
  {
    std::vector<std::string> notes;
    try {
      enricher.configure(file_config, probes->slots(), &notes);
    } catch (const std::exception &e) {
      return fail(e.what(), 2);
    }
    for (const auto &note : notes)
      std::fprintf(stderr, "pidtree-bcc: note: %s\n", note.c_str());
  }
  probes->set_enricher(&enricher);
  tracer.set_enricher(&enricher);

  BpfProgram bpf;
  if (!(err = bpf.compile(program.text())).empty() ||
      !(err = probes->write_maps(bpf)).empty())
    return fail(err);
  enricher.use_maps(&bpf);
  ConfigReloader reloader(opt.config_file, opt.watch_config, *probes, sink,
                          clock, &remote);
  reloader.allow_restart(supervised());
  if (have_file)
    reloader.start(file_config);
  if (!(err = bpf.open_buffer(
            opt.perf_pages ? opt.perf_pages : default_perf_pages(online_cpus()),
            kWakeupEvents,
            [&tracer](const void *d, size_t n) { tracer.on_sample(d, n); },
            [&tracer](uint64_t n) { tracer.on_lost(n); }))
           .empty() ||
      !(err = bpf.attach(program.hooks())).empty())
    return fail(err);
  bpf.release_compiler_memory();
  // After attaching: a process either is in the scan or its fork event
  // follows, and the events are only handled once the scan is in.
  if (use_table)
    table_ancestry.seed();
  // Root's other privileges are not needed from here on; the process has
  // one thread still (kernel/privileges.h says what is kept and why).
  if (!(err = drop_privileges(kept_capabilities(read_cap_last_cap()))).empty())
    return fail(err);
  // The refetch thread starts after the drop (capabilities are per thread).
  remote.use(file_config.urls);
  probes->start();
  std::fprintf(stderr, "pidtree-bcc: tracing %s; Ctrl-C to stop\n",
               probes->describe().c_str());

  Telemetry telemetry(opt.stats_interval_s, opt.lost_event_telemetry,
                      monotonic_now_ns());
  LoopParts loop{
      bpf,
      tracer,
      *probes,
      sink,
      clock,
      have_file ? &reloader : nullptr,
      use_table ? &table_ancestry : nullptr,
      &enricher,
      out_file.get(),
      opt.stats_interval_s || opt.lost_event_telemetry ? &telemetry : nullptr};
  LoopEnd end = run_event_loop(loop, g_exiting, g_reload);
  // Hooks first: what the probes report as they stop is then complete.
  bpf.detach();
  probes->stop();
  if (end.error.empty())
    end.error = finish_event_loop(loop, end);
  if (!end.error.empty())
    return fail(end.error);
  return end.restart ? kRestartStatus : 0;
}
