// tcp_connect: every outbound TCP connect, IPv4 and IPv6, with the
// destination filtered in the kernel. BPF: bpf/tcp_connect_kprobe.bpf.c
// (kprobe backend), bpf/tcp_connect_tracepoint.bpf.c (tracepoint backend,
// a handler of the shared sock:inet_sock_set_state program). Event:
// connect_event.h.
#pragma once

#include "config/config.h"
#include "probes/probe.h"

namespace pidtree {

class TcpConnectProbe : public Probe {
 public:
  // The command line's filters join the file's section (or stand alone
  // without one); see combine_filters.
  TcpConnectProbe(Backend backend, const ProbeConfig *section,
                  CommandLineFilters cli);

  std::string description() const override;
  std::string check(const ProgramShape &shape) const override;
  void build(ProgramBuilder *program) const override;
  std::string validate(const FileConfig &file) const override;
  void reconfigure(const FileConfig &file,
                   std::vector<std::string> *notes) override;

 private:
  Backend backend_;
  CommandLineFilters cli_;
};

// The section's own keys: none beyond the common ones.
SectionSpec tcp_connect_section();

}  // namespace pidtree
