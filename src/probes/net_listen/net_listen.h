// net_listen: every TCP listen() and UDP bind() on the host, IPv4 and
// IPv6, in every network namespace, with the real port; and, every
// snapshot_periodicity seconds (one at start), a snapshot of every socket
// that listens now. Filters act on the local address and port. BPF:
// bpf/net_listen.bpf.c (and bpf/net_listen_kprobe.bpf.c on the kprobe
// backend). Event: listen_event.h. Snapshots: snapshot.h.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>

#include "config/config.h"
#include "probes/probe.h"
#include "probes/probe_worker.h"

namespace pidtree {

// The section's own keys, as upstream has them.
struct NetListenSettings : ProbeSettings {
  bool tcp = true;  // protocols: [tcp] by default
  bool udp = false;
  uint64_t snapshot_period_ms = 0;  // snapshot_periodicity; 0: none
  bool same_namespace_only = false;
  bool exclude_random_bind = false;
};

SectionSpec net_listen_section();

class SocketSource;

class NetListenProbe : public Probe {
 public:
  // `own_netns`: the tracer's network namespace (same_namespace_only).
  NetListenProbe(Backend backend, const ProbeConfig &section,
                 uint32_t own_netns);
  ~NetListenProbe() override;

  std::string description() const override;
  bool reads_sockets() const override { return true; }
  std::string check(const ProgramShape &shape) const override;
  void build(ProgramBuilder *program) const override;
  pidtree_probe_settings settings() const override;
  std::string validate(const FileConfig &file) const override;
  std::vector<std::string> restart_reasons(
      const FileConfig &file) const override;
  void reconfigure(const FileConfig &file,
                   std::vector<std::string> *notes) override;
  // ,"family","laddr","port","protocol","netns", as its lines.
  void append_flood_destination(std::string *out,
                                const FloodSummary &summary) const override;
  void start() override;
  void collect(std::vector<Event> *out) override;
  void stop() override;

  // What the snapshot reports of a socket: the probe's filters, as the
  // kernel applies them to live events.
  bool keep(const ListenEvent &event) const;
  // Takes a snapshot now (the thread does this every period).
  void snapshot(SocketSource &source);

 private:
  Backend backend_;
  uint32_t own_netns_;
  NetListenSettings settings_;
  // The hooks before bind() are attached (exclude_random_bind at start).
  const bool marks_random_binds_;
  // The snapshot thread reads the filters while a reload may replace them.
  mutable std::mutex mutex_;
  ProbeWorker worker_;  // the periodic snapshots
};

}  // namespace pidtree
