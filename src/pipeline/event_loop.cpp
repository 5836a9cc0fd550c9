#include "pipeline/event_loop.h"

#include <errno.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

namespace pidtree {

namespace {

// How long after its time stamp an event is certainly in the perf buffer:
// the BPF program stamps it and writes it within microseconds.
constexpr int64_t kReorderWindowNs = 5'000'000;
// So a quiet CPU's last few events are found by polling at least this often
// (the latency of an event at a low rate, plus kReorderWindowNs): the
// kernel wakes the reader only once per many events (kernel/bpf_program.h).
constexpr int kIdlePollMs = 25;
// While events are held for the reorder window.
constexpr int kHeldPollMs = 10;
// How often to ask whether the reader of the output pipe is gone (a poll()
// of its own; a write to a closed pipe says so anyway).
constexpr auto kReaderCheckInterval = std::chrono::milliseconds(100);
// Lost events may include exits: after a loss, the process table is
// checked against /proc, at most this often.
constexpr auto kResyncInterval = std::chrono::seconds(10);

void take_probe_events(const LoopParts &parts, std::vector<Event> *made) {
  parts.probes.collect(made);
  for (auto &e : *made)
    parts.tracer.push(std::move(e));
  made->clear();
}

std::string output_error(const OutputSink &sink) {
  if (sink.failed() && sink.error() != EPIPE)
    return std::string("writing output failed: ") + std::strerror(sink.error());
  return "";
}

// SIGHUP with -f: what is pending goes to the old file, the rest to the
// file now at the path (logrotate's postrotate). If it cannot be opened,
// the old one stays in use.
void reopen_output(const LoopParts &parts) {
  std::string why;
  int fd = parts.output_file->open(&why);
  if (fd < 0) {
    std::fprintf(stderr,
                 "pidtree-bcc: warning: SIGHUP: %s; still writing "
                 "to the file open before\n",
                 why.c_str());
    return;
  }
  parts.sink.switch_to(fd);
}

// The counters of the stats line, read now.
TracerCounters gather(const LoopParts &parts) {
  TracerCounters c;
  c.events = parts.tracer.events();
  c.lost = parts.tracer.lost();
  c.malformed = parts.tracer.malformed();
  c.container_dropped = parts.tracer.dropped();
  for (const auto &[name, slot] : parts.probes.slots())
    c.lines.emplace_back(name, parts.tracer.lines_of(slot));
  if (parts.table) {
    const ProcessTable &t = parts.table->table();
    c.have_table = true;
    c.table_live = t.live_count();
    c.table_exited = t.retained_exited();
    c.table_evictions = t.evictions();
  }
  if (parts.reloader) {
    c.reloads_applied = parts.reloader->applied();
    c.reloads_refused = parts.reloader->refused();
  }
  read_self_usage(&c.rss_kb, &c.cpu_s);
  return c;
}

void write_telemetry(const LoopParts &parts) {
  Telemetry *t = parts.telemetry;
  if (!t)
    return;
  const uint64_t mono = monotonic_now_ns();
  const bool stats = t->stats_due(mono);
  std::string ts;
  auto timestamp = [&]() -> const std::string & {
    if (ts.empty())
      ts = format_rfc3339_utc(parts.clock.realtime_ns());
    return ts;
  };
  if (t->lost_due(parts.tracer.events()))
    parts.sink.add_line(
        t->lost_line(parts.tracer.events(), parts.tracer.lost(), timestamp()));
  if (stats)
    parts.sink.add_line(t->stats_line(mono, gather(parts), timestamp()));
}

}  // namespace

LoopEnd run_event_loop(const LoopParts &parts,
                       const volatile sig_atomic_t &exiting,
                       volatile sig_atomic_t &reload) {
  Tracer &tracer = parts.tracer;
  bool output_ok = true;
  uint64_t lost_at_resync = 0;
  auto last_resync = std::chrono::steady_clock::now();
  auto last_reader_check = last_resync;
  std::vector<Event> made;
  std::vector<std::string> notes;
  auto restart = [&parts] {
    return parts.reloader && parts.reloader->restart_requested();
  };
  while (!exiting && output_ok && !restart()) {
    tracer.begin_batch();
    // Held events wait for the next watermark: come back soon for them.
    int rc = parts.kernel.poll(tracer.held() ? kHeldPollMs : kIdlePollMs);
    if (rc < 0 && errno != EINTR)
      return LoopEnd{true, std::string("polling the perf buffer failed: ") +
                               std::strerror(errno)};
    // Everything stamped before the watermark is in the buffers once they
    // are drained, so it can be handled in time order.
    int64_t watermark = parts.clock.boottime_ns() - kReorderWindowNs;
    parts.kernel.drain();
    take_probe_events(parts, &made);
    if (reload) {
      reload = 0;
      if (parts.output_file)
        reopen_output(parts);
      if (parts.reloader)
        parts.reloader->request();
      else if (!parts.output_file)
        std::fprintf(stderr,
                     "pidtree-bcc: SIGHUP: no configuration file to reload "
                     "(see --config)\n");
    }
    if (parts.reloader)
      parts.reloader->poll();
    if (parts.enricher) {
      parts.enricher->maintain(std::chrono::steady_clock::now(), &notes);
      for (const auto &note : notes)
        std::fprintf(stderr, "pidtree-bcc: note: %s\n", note.c_str());
      notes.clear();
    }
    write_telemetry(parts);
    output_ok = tracer.end_batch(static_cast<uint64_t>(watermark));
    auto now = std::chrono::steady_clock::now();
    if (output_ok && now - last_reader_check >= kReaderCheckInterval) {
      output_ok = !parts.sink.reader_gone();
      last_reader_check = now;
    }
    if (parts.table && tracer.lost() != lost_at_resync &&
        now - last_resync > kResyncInterval) {
      parts.table->resync();
      lost_at_resync = tracer.lost();
      last_resync = now;
    }
  }
  return LoopEnd{output_ok, output_ok ? "" : output_error(parts.sink),
                 restart()};
}

std::string finish_event_loop(const LoopParts &parts, const LoopEnd &end) {
  if (!end.output_open)
    return end.error;
  // Events already in the buffer when the signal came are still written.
  std::vector<Event> made;
  parts.tracer.begin_batch();
  parts.kernel.drain();
  take_probe_events(parts, &made);
  parts.tracer.end_batch();
  return output_error(parts.sink);
}

}  // namespace pidtree
