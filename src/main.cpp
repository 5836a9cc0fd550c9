// pidtree-bcc: parse options, check the system, load and attach the probe,
// then poll until a signal or a closed output ends the run.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "pidtree/ancestry.h"
#include "pidtree/clock.h"
#include "pidtree/options.h"
#include "pidtree/output.h"
#include "pidtree/preflight.h"
#include "pidtree/probe.h"
#include "pidtree/procfs.h"
#include "pidtree/program.h"
#include "pidtree/tracer.h"
#include "pidtree/users.h"

namespace {

volatile sig_atomic_t g_exiting = 0;

void on_signal(int) { g_exiting = 1; }

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
  const Options &opt = parsed.options;
  KernelFeatures kernel;

  if (opt.print_and_quit) {
    Backend backend = opt.backend;
    if (backend == Backend::kAuto) {
      try {
        backend = resolve_backend(Backend::kAuto, kernel);
      } catch (const std::exception &) {
        backend = Backend::kTracepoint;  // nothing to attach when printing
      }
    }
    std::cout << build_program(shape_for(backend, opt.filters));
    return 0;
  }

  std::string err = check_privileges();
  if (!err.empty())
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

  int out_fd = STDOUT_FILENO;
  if (opt.output_file != "-") {
    out_fd = ::open(opt.output_file.c_str(),
                    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (out_fd < 0)
      return fail("cannot open output file '" + opt.output_file +
                  "': " + std::strerror(errno));
  }
  install_signal_handlers();

  OutputSink sink(out_fd);
  SystemClock clock;
  ProcFs procfs;
  PasswdUserDb users;
  ProcAncestry ancestry(procfs, users);
  Tracer tracer(ancestry, users, clock, sink);

  ConnectProbe probe;
  if (!(err = probe.compile(build_program(shape_for(backend, opt.filters))))
           .empty())
    return fail(err);
  if (!(err = probe.load_filters(to_map_entries(opt.filters))).empty())
    return fail(err);
  if (!(err = probe.open_buffer(
            opt.perf_pages,
            [&tracer](const void *d, size_t n) { tracer.on_sample(d, n); },
            [&tracer](uint64_t n) { tracer.on_lost(n); }))
           .empty())
    return fail(err);
  if (!(err = probe.attach(backend)).empty())
    return fail(err);
  probe.release_compiler_memory();
  std::fprintf(stderr,
               "pidtree-bcc: tracing TCP connects with the %s backend; "
               "Ctrl-C to stop\n",
               backend_name(backend));

  bool output_ok = true;
  while (!g_exiting && output_ok) {
    tracer.begin_batch();
    int rc = probe.poll(200);
    if (rc < 0 && errno != EINTR)
      return fail(std::string("polling the perf buffer failed: ") +
                  std::strerror(errno));
    output_ok = tracer.end_batch() && !sink.reader_gone();
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
