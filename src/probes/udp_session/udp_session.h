// udp_session: every UDP conversation, IPv4 and IPv6, as one line per
// socket with its destinations and message counts, counted in the kernel.
// Filters act on the destination. BPF: bpf/udp_session.bpf.c (and
// bpf/udp_session_kprobe.bpf.c on the kprobe backend). Events:
// udp_event.h; lines: session_book.h. The probe is also a stage of the
// pipeline (pipeline/stage.h): it keeps each session's tree from its
// start and makes its lines.
#pragma once

#include <functional>

#include "config/config.h"
#include "pipeline/stage.h"
#include "probes/probe.h"
#include "probes/probe_worker.h"
#include "probes/udp_session/session_book.h"

namespace pidtree {

struct UdpSessionSettings : ProbeSettings {
  uint64_t max_duration_ns = 120'000'000'000ull;  // session_max_duration
};

SectionSpec udp_session_section();

// Sessions the kernel keeps at once; the rest are counted as untracked.
inline constexpr uint32_t kMaxUdpSessions = 65536;

class UdpSessionProbe : public Probe, public EventStage {
 public:
  UdpSessionProbe(Backend backend, const ProbeConfig &section);
  ~UdpSessionProbe() override;

  std::string description() const override;
  bool reads_sockets() const override { return true; }
  std::string check(const ProgramShape &shape) const override;
  std::string blind_spot(const ProgramShape &shape) const override;
  void build(ProgramBuilder *program) const override;
  std::string validate(const FileConfig &file) const override;
  std::vector<std::string> restart_reasons(
      const FileConfig &file) const override;
  void reconfigure(const FileConfig &file,
                   std::vector<std::string> *notes) override;
  void use_maps(MapAccess &maps) override { maps_ = &maps; }
  void start() override;
  void collect(std::vector<Event> *out) override;
  // After the hooks are gone: the sessions still open get their lines.
  void stop() override;

  bool take(const Event &event, LineOutput &out) override;

  // One scan of the sessions map at `now_ns` (the thread does this every
  // scan period): sessions idle for session_max_duration are taken out and
  // ended, those old enough for an interim line are passed on. The last
  // scan (`last`, as the tracer stops) passes on every session still open.
  void scan(MapAccess &maps, uint64_t now_ns,
            const std::function<uint64_t()> &clock, bool last = false);
  uint64_t scan_period_ns() const;

 private:
  void write(const SessionBook::Made &made, LineOutput &out);
  SessionBook::Made fallback(const UdpSessionRecord &record, LineOutput &out,
                             const std::string &why);

  Backend backend_;
  UdpSessionSettings settings_;
  SessionBook book_;
  MapAccess *maps_ = nullptr;
  UntrackedCounter<UdpSessionsUntracked> untracked_{"udp_counters",
                                                    PIDTREE_UDP_UNTRACKED};
  ProbeWorker worker_;  // the periodic scans
};

}  // namespace pidtree
