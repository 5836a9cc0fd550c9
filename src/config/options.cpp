#include "config/options.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <utility>

namespace pidtree {

const char kVersion[] = PIDTREE_VERSION;

const char *backend_name(Backend backend) {
  switch (backend) {
    case Backend::kAuto:
      return "auto";
    case Backend::kKprobe:
      return "kprobe";
    case Backend::kTracepoint:
      return "tracepoint";
  }
  return "?";
}

namespace {

// CLI11 messages may span lines and echo what was typed; the contract is
// one printable line on stderr.
std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  while (!text.empty() && text.back() == ' ')
    text.pop_back();
  return printable(text);
}

// The value named by `text` among `choices`, or an InputError listing
// them ("invalid --flag 'x': expected a, b or c").
template <typename T>
T choose(const char *flag, const std::string &text,
         std::initializer_list<std::pair<const char *, T>> choices) {
  std::string expected;
  size_t i = 0;
  for (const auto &[name, value] : choices) {
    if (text == name)
      return value;
    expected += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ");
    expected += name;
    ++i;
  }
  throw InputError(std::string("invalid ") + flag + " '" + printable(text) +
                   "': expected " + expected);
}

// A whole number from `low` to `high`, digits only (CLI11 would take ""
// as no value and "1e3" as a number), or an InputError naming the range.
int64_t parse_whole(const char *flag, const std::string &text, int64_t low,
                    int64_t high, const char *expected) {
  const bool negative = !text.empty() && text[0] == '-';
  const std::string digits = negative ? text.substr(1) : text;
  if (!digits.empty() && digits.size() <= 12 &&
      digits.find_first_not_of("0123456789") == std::string::npos) {
    int64_t v = std::stoll(digits) * (negative ? -1 : 1);
    if (v >= low && v <= high)
      return v;
  }
  throw InputError(std::string("invalid ") + flag + " '" + printable(text) +
                   "': expected " + expected);
}

// "tcp_connect,net_listen" -> the names, each known, once.
std::vector<std::string> parse_probe_list(const std::string &text) {
  std::vector<std::string> out;
  std::string available;
  for (const auto &spec : probe_sections())
    available += (available.empty() ? "" : ", ") + spec.name;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string name = text.substr(
        start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? text.size() + 1 : comma + 1;
    const SectionSpec *spec = nullptr;
    for (const auto &s : probe_sections())
      if (s.name == name)
        spec = &s;
    if (!spec)
      throw InputError("invalid --probes: unknown probe '" + printable(name) +
                       "' (expected " + available + ")");
    if (std::find(out.begin(), out.end(), name) == out.end())
      out.push_back(name);
  }
  return out;
}

}  // namespace

ParseResult parse_options(int argc, const char *const *argv) {
  ParseResult result;
  Options &opt = result.options;

  CLI::App app{
      "Trace outbound TCP connects (and, with --probes or a configuration "
      "file, TCP listens and UDP binds) and print each one as a JSON line "
      "with the whole chain of processes that made it.",
      "pidtree-bcc"};
  app.set_version_flag("-v,--version", std::string("pidtree-bcc ") + kVersion);

  std::string backend = "auto";
  std::vector<std::string> filters;
  std::string include_ports, exclude_ports;
  bool no_default_filters = false;

  std::string probes;
  auto *probes_opt =
      app.add_option(
             "--probes", probes,
             "Probes to run without a configuration file, comma "
             "separated: tcp_connect (default), net_listen, udp_session; "
             "with --config, the file's sections choose")
          ->type_name("LIST");
  app.add_option("--backend", backend,
                 "Probe backend: auto (kprobe where the kernel has kprobes, "
                 "else tracepoint), kprobe, or tracepoint")
      ->type_name("auto|kprobe|tracepoint");
  app.add_option("--filter", filters,
                 "tcp_connect: do not report connects to this network "
                 "(CIDR, IPv4 or IPv6; repeatable), in addition to the "
                 "defaults")
      ->type_name("CIDR")
      ->take_all();
  app.add_flag("--no-default-filters", no_default_filters,
               "tcp_connect: do not exclude loopback, private and "
               "link-local networks");
  auto *inc = app.add_option(
      "--include-ports", include_ports,
      "tcp_connect: only report connects to these destination ports, e.g. "
      "80,443,8000-9000");
  inc->type_name("SPEC");
  auto *exc = app.add_option(
      "--exclude-ports", exclude_ports,
      "tcp_connect: do not report connects to these destination ports, "
      "e.g. 22,8000-9000");
  exc->type_name("SPEC");
  inc->excludes(exc);
  app.add_option("-f,--output-file", opt.output_file,
                 "Write JSON lines to this file (appended; made 0600); - is "
                 "stdout. A symbolic link is refused without "
                 "--output-follow-symlink")
      ->type_name("PATH");
  std::string format = "json";
  app.add_option("--format", format,
                 "json (one JSON line an event, the default) or text (for "
                 "a person at a terminal: each event as a few lines, the "
                 "process tree indented; colours on a terminal unless "
                 "NO_COLOR is set)")
      ->type_name("json|text");
  app.add_flag("--output-follow-symlink", opt.output_follow_symlink,
               "Let --output-file be a symbolic link (a root daemon writing "
               "through a link someone else may have made)");
  app.add_option("-c,--config", opt.config_file,
                 "YAML configuration file in Yelp pidtree-bcc's format; "
                 "SIGHUP reloads it")
      ->type_name("FILE");
  bool watch_only = false;
  app.add_flag("-w,--watch-config", watch_only,
               "Reload the configuration when it (or a file it includes) "
               "changes");
  app.add_flag("-p,--print-and-quit", opt.print_and_quit,
               "Print the generated BPF program and exit (no root needed)");
  auto *perf_pages =
      app.add_option("--perf-pages", opt.perf_pages,
                     "Perf buffer size per CPU in 4 KiB pages (power of two)")
          ->type_name("N");

  std::string ancestry = "table";
  app.add_option("--ancestry", ancestry,
                 "Where process trees come from: table (kept from kernel "
                 "events, race-free) or proc (read from /proc when the event "
                 "is handled; racy, for comparison)")
      ->type_name("table|proc");
  std::string exec_argv = "auto";
  app.add_option("--exec-argv", exec_argv,
                 "Where the process table reads a new program's argv: "
                 "memory (the process's, at exec; offsets from the kernel's "
                 "BTF), syscall (execve()'s arguments; syscall tracepoints "
                 "slow every syscall on the host), or auto (memory where "
                 "the kernel has BTF)")
      ->type_name("auto|memory|syscall");
  app.add_option("--max-exited", opt.max_exited,
                 "Exited processes kept for the trees of their live "
                 "descendants; beyond this the oldest are evicted")
      ->type_name("N");
  std::string flood_budget;
  auto *flood =
      app.add_option("--flood-budget", flood_budget,
                     "Events one process may report per second, all "
                     "probes together (default 1000); beyond, the kernel "
                     "counts its events per destination and a "
                     "flood_summary line a second reports them, so no "
                     "process can fill the perf buffer and push out other "
                     "processes' events. 0: no limit")
          ->type_name("N");
  std::string stats_interval;
  auto *stats =
      app.add_option("--stats-interval", stats_interval,
                     "Write a {\"type\":\"stats\"} line every this many "
                     "seconds: events and lines per probe, lost events, "
                     "the process table, reloads, RSS and CPU (default 0: "
                     "none)")
          ->type_name("SECONDS");
  std::string lost_event_telemetry;
  auto *lost_telemetry =
      app.add_option("--lost-event-telemetry", lost_event_telemetry,
                     "As upstream: a {\"type\":\"lost_event_telemetry\"} "
                     "line with the lost events so far each time this many "
                     "more events were handled (default -1: none)")
          ->type_name("NEVENTS");
  std::string health_check_period;
  auto *health =
      app.add_option("--health-check-period", health_check_period,
                     "Accepted for upstream's unit files and checked (whole "
                     "seconds, at least 1); no effect: one process, no "
                     "watchdog (see docs/flags.md)")
          ->type_name("SECONDS");

  std::string remote_interval, remote_timeout;
  auto *remote_interval_opt =
      app.add_option("--remote-include-interval", remote_interval,
                     "Seconds between fetches of each !include https:// "
                     "(or http://) file, 1 to 604800 (default 3600, as "
                     "upstream); a changed file is reloaded with -w")
          ->type_name("SECONDS");
  auto *remote_timeout_opt =
      app.add_option("--remote-include-timeout", remote_timeout,
                     "Seconds one fetch of a remote include may take, 1 to "
                     "300 (default 10); beyond, it fails and the last good "
                     "copy stays")
          ->type_name("SECONDS");
  app.add_option("--remote-include-ca", opt.remote_include_ca,
                 "PEM file of the certificate authorities that https:// "
                 "includes are checked against (default: the system's)")
      ->type_name("FILE");

  try {
    app.parse(argc, argv);
    opt.ancestry = choose<AncestrySource>(
        "--ancestry", ancestry,
        {{"table", AncestrySource::kTable}, {"proc", AncestrySource::kProc}});
    opt.format = choose<OutputFormat>(
        "--format", format,
        {{"json", OutputFormat::kJson}, {"text", OutputFormat::kText}});
    opt.exec_argv = choose<ExecArgv>("--exec-argv", exec_argv,
                                     {{"auto", ExecArgv::kAuto},
                                      {"memory", ExecArgv::kMemory},
                                      {"syscall", ExecArgv::kSyscall}});
    if (opt.max_exited == 0 || opt.max_exited > 100000000)
      throw InputError("invalid --max-exited " +
                       std::to_string(opt.max_exited) +
                       ": expected 1 to 100000000");
    if (flood->count() > 0)
      opt.flood_budget = static_cast<uint64_t>(
          parse_whole("--flood-budget", flood_budget, 0, kMaxFloodBudget,
                      "0 (no limit) to 1000000000"));
    if (stats->count() > 0)
      opt.stats_interval_s = static_cast<uint64_t>(parse_whole(
          "--stats-interval", stats_interval, 0, 86400, "0 (none) to 86400"));
    if (lost_telemetry->count() > 0) {
      int64_t n =
          parse_whole("--lost-event-telemetry", lost_event_telemetry, INT32_MIN,
                      INT32_MAX, "a whole number (0 or less: none)");
      opt.lost_event_telemetry = n > 0 ? static_cast<uint64_t>(n) : 0;
    }
    if (health->count() > 0)
      opt.health_check_period_s = static_cast<uint64_t>(
          parse_whole("--health-check-period", health_check_period, 1,
                      INT32_MAX, "a number of seconds, at least 1"));
    if (remote_interval_opt->count() > 0)
      opt.remote_include_interval_s = static_cast<uint64_t>(
          parse_whole("--remote-include-interval", remote_interval, 1, 604800,
                      "1 to 604800 seconds"));
    if (remote_timeout_opt->count() > 0)
      opt.remote_include_timeout_s = static_cast<uint64_t>(
          parse_whole("--remote-include-timeout", remote_timeout, 1, 300,
                      "1 to 300 seconds"));
    if (app.count("--remote-include-ca") > 0 && opt.remote_include_ca.empty())
      throw InputError("invalid --remote-include-ca: empty path");
    opt.backend = choose<Backend>("--backend", backend,
                                  {{"auto", Backend::kAuto},
                                   {"kprobe", Backend::kKprobe},
                                   {"tracepoint", Backend::kTracepoint}});
    if (perf_pages->count() > 0 &&
        (opt.perf_pages == 0 || (opt.perf_pages & (opt.perf_pages - 1)) ||
         opt.perf_pages > 65536))
      throw InputError("invalid --perf-pages " +
                       std::to_string(opt.perf_pages) +
                       ": expected a power of two from 1 to 65536");
    if (opt.output_file.empty())
      throw InputError("invalid --output-file: empty path");
    CommandLineFilters &cli = opt.cli_filters;
    cli.no_default_filters = no_default_filters;
    for (const auto &f : filters)
      cli.networks.push_back(parse_cidr(f));
    if (!include_ports.empty() || inc->count() > 0) {
      cli.port_mode = PortMode::kInclude;
      cli.ports = parse_port_spec(include_ports);
    } else if (!exclude_ports.empty() || exc->count() > 0) {
      cli.port_mode = PortMode::kExclude;
      cli.ports = parse_port_spec(exclude_ports);
    }
    opt.filters = combine_filters(nullptr, cli);
    if (probes_opt->count() > 0) {
      if (app.count("--config") > 0)
        throw InputError(
            "--probes cannot be combined with --config: the file's "
            "sections (tcp_connect:, net_listen:, ...) choose the probes");
      opt.probes = parse_probe_list(probes);
    }
    if (watch_only && opt.config_file.empty())
      throw InputError("--watch-config needs --config FILE");
    opt.watch_config = watch_only;
    if (app.count("--config") > 0 && opt.config_file.empty())
      throw InputError("invalid --config: empty path");
  } catch (const CLI::CallForHelp &) {
    result.action = ParseResult::Action::kExit;
    result.out = app.help();
    return result;
  } catch (const CLI::CallForVersion &e) {
    result.action = ParseResult::Action::kExit;
    result.out = std::string(e.what()) + "\n";
    return result;
  } catch (const CLI::ParseError &e) {
    result.action = ParseResult::Action::kExit;
    result.exit_code = 2;
    result.err = "pidtree-bcc: error: " + one_line(e.what()) + " (see --help)";
    return result;
  } catch (const InputError &e) {
    result.action = ParseResult::Action::kExit;
    result.exit_code = 2;
    result.err = "pidtree-bcc: error: " + one_line(e.what());
    return result;
  }
  return result;
}

unsigned default_perf_pages(unsigned online_cpus) {
  const unsigned total_pages = (16u << 20) / 4096;
  unsigned per_cpu = total_pages / (online_cpus ? online_cpus : 1);
  unsigned pages = 256;
  while (pages * 2 <= per_cpu && pages < 1024)
    pages *= 2;
  return pages;
}

}  // namespace pidtree
