#include "pipeline/telemetry.h"

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "process/procfs.h"

namespace pidtree {

bool parse_self_usage(const std::string &statm, const std::string &stat,
                      long page_kb, long ticks_per_s, uint64_t *rss_kb,
                      double *cpu_s) {
  std::istringstream m(statm);
  uint64_t size = 0, resident = 0;
  uint64_t utime = 0, stime = 0;  // fields 14 and 15
  if (!(m >> size >> resident) || page_kb <= 0 || ticks_per_s <= 0 ||
      !parse_stat_field(stat, 14, &utime) ||
      !parse_stat_field(stat, 15, &stime))
    return false;
  *rss_kb = resident * static_cast<uint64_t>(page_kb);
  *cpu_s =
      static_cast<double>(utime + stime) / static_cast<double>(ticks_per_s);
  return true;
}

bool read_self_usage(uint64_t *rss_kb, double *cpu_s) {
  std::string statm, stat;
  bool cut = false;
  if (read_file("/proc/self/statm", 4096, &statm, &cut) != FileRead::kOk ||
      read_file("/proc/self/stat", 4096, &stat, &cut) != FileRead::kOk)
    return false;
  return parse_self_usage(statm, stat, sysconf(_SC_PAGESIZE) / 1024,
                          sysconf(_SC_CLK_TCK), rss_kb, cpu_s);
}

std::string Telemetry::stats_line(uint64_t mono_ns, const TracerCounters &c,
                                  const std::string &timestamp) {
  const double seconds = static_cast<double>(mono_ns - last_mono_ns_) / 1e9;
  nlohmann::ordered_json lines = nlohmann::ordered_json::object();
  for (const auto &[probe, n] : c.lines)
    lines[probe] = n;
  nlohmann::ordered_json j{{"type", "stats"},
                           {"timestamp", timestamp},
                           {"interval_s", seconds},
                           {"events", c.events},
                           {"events_interval", c.events - last_events_},
                           {"lines", lines},
                           {"lost", c.lost},
                           {"lost_interval", c.lost - last_lost_},
                           {"malformed", c.malformed},
                           {"container_dropped", c.container_dropped}};
  if (c.have_table)
    j["process_table"] = {{"live", c.table_live},
                          {"exited_kept", c.table_exited},
                          {"evictions", c.table_evictions}};
  j["reloads"] = {{"applied", c.reloads_applied},
                  {"refused", c.reloads_refused}};
  j["rss_kb"] = c.rss_kb;
  j["cpu_s"] = c.cpu_s;
  j["cpu_pct"] = seconds > 0 ? 100.0 * (c.cpu_s - last_cpu_s_) / seconds : 0.0;
  last_mono_ns_ = mono_ns;
  last_events_ = c.events;
  last_lost_ = c.lost;
  last_cpu_s_ = c.cpu_s;
  return j.dump() + "\n";
}

std::string Telemetry::lost_line(uint64_t events, uint64_t lost,
                                 const std::string &timestamp) {
  if (lost_every_ == 0 || events < next_lost_at_)
    return "";
  // Once however many multiples a large batch passed.
  next_lost_at_ = (events / lost_every_ + 1) * lost_every_;
  nlohmann::ordered_json j{{"type", "lost_event_telemetry"},
                           {"timestamp", timestamp},
                           {"count", lost}};
  return j.dump() + "\n";
}

}  // namespace pidtree
