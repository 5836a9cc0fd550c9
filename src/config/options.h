// Command-line options: parsing and validation, without side effects.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "config/filters.h"

namespace pidtree {

enum class Backend { kAuto, kKprobe, kTracepoint };
const char *backend_name(Backend backend);

// Where ancestry comes from: the kernel-fed process table (default), or a
// walk of /proc when the event is handled (racy; kept for comparison).
enum class AncestrySource { kTable, kProc };

// Where the process table reads each exec's argv: the new program's memory
// (offsets from the kernel's BTF), or execve()'s arguments (syscall
// tracepoints: every syscall on the host takes the slow path); auto is
// memory where the kernel has BTF.
enum class ExecArgv { kAuto, kMemory, kSyscall };

// JSON lines (for machines), or the text view (output/text.h).
enum class OutputFormat { kJson, kText };

inline constexpr uint64_t kDefaultFloodBudget = 1000;
inline constexpr uint64_t kMaxFloodBudget = 1000000000;

struct Options {
  Backend backend = Backend::kAuto;
  // The command line's part of tcp_connect's filters, and what is in force
  // without a configuration file (see combine_filters for how they join a
  // file's). The other probes take filters from a file only.
  CommandLineFilters cli_filters;
  FilterConfig filters;
  // Without a configuration file: the probes to run (--probes); with one,
  // its sections choose.
  std::vector<std::string> probes = {"tcp_connect"};
  std::string config_file;  // "" for none
  bool watch_config = false;
  std::string output_file = "-";
  bool output_follow_symlink = false;  // else -f refuses a symbolic link
  OutputFormat format = OutputFormat::kJson;
  bool print_and_quit = false;
  unsigned perf_pages = 0;  // per CPU, a power of two; 0: default_perf_pages
  AncestrySource ancestry = AncestrySource::kTable;
  ExecArgv exec_argv = ExecArgv::kAuto;
  size_t max_exited = 65536;  // exited processes kept for descendants
  // Events a process may report per second through the perf buffer
  // before the rest are summarised per destination; 0: no limit.
  uint64_t flood_budget = kDefaultFloodBudget;
  uint64_t stats_interval_s = 0;        // 0: no stats lines
  uint64_t lost_event_telemetry = 0;    // 0: no lost_event_telemetry lines
  uint64_t health_check_period_s = 60;  // upstream's; checked, no effect
  // !include https:// (src/config/remote.h): fetched again this often, each
  // fetch given this long, certificates checked against this bundle.
  uint64_t remote_include_interval_s = 3600;
  uint64_t remote_include_timeout_s = 10;
  std::string remote_include_ca;  // "" for the system's
};

// What the caller should do after parsing.
struct ParseResult {
  enum class Action { kRun, kExit } action = Action::kRun;
  int exit_code = 0;  // for kExit: 0 for --help/--version, 2 for bad input
  std::string out;    // to print on stdout (help, version)
  std::string err;    // one line for stderr (errors)
  Options options;
};

ParseResult parse_options(int argc, const char *const *argv);

extern const char kVersion[];

// The perf buffer size per CPU when --perf-pages is not given: 16 MiB in
// all, between 1 MiB (256 pages) and 4 MiB (1024 pages) per CPU. A CPU's
// buffer must hold what arrives while the tracer is not running: at the
// full connect rate of a small host, 1 MiB was a few hundred milliseconds.
unsigned default_perf_pages(unsigned online_cpus);

}  // namespace pidtree
