#include "probes/tcp_connect/tcp_connect.h"

#include "kernel/filter_maps.h"

namespace pidtree {

TcpConnectProbe::TcpConnectProbe(Backend backend, const ProbeConfig *section,
                                 CommandLineFilters cli)
    : Probe("tcp_connect", PIDTREE_SLOT_TCP_CONNECT),
      backend_(backend),
      cli_(std::move(cli)) {
  filters_ = combine_filters(section, cli_);
}

std::string TcpConnectProbe::description() const {
  return std::string("TCP connects with the ") + backend_name(backend_) +
         " backend";
}

std::string TcpConnectProbe::check(const ProgramShape &) const { return ""; }

void TcpConnectProbe::build(ProgramBuilder *program) const {
  if (backend_ == Backend::kTracepoint) {
    program->source("tcp_connect_tracepoint.bpf.c");
    program->on_sock_state("tcp_connect_on_sock_state", {2 /* SYN_SENT */});
    return;
  }
  program->source("tcp_connect_kprobe.bpf.c");
  struct Entry {
    const char *func, *fn;
    HookType type;
  };
  for (const Entry &e :
       {Entry{"tcp_v4_connect", "pidtree_v4_entry", HookType::kKprobe},
        Entry{"tcp_v4_connect", "pidtree_return", HookType::kKretprobe},
        Entry{"tcp_v6_connect", "pidtree_v6_entry", HookType::kKprobe},
        Entry{"tcp_v6_connect", "pidtree_return", HookType::kKretprobe}}) {
    Hook h;
    h.type = e.type;
    h.target = e.func;
    h.function = e.fn;
    program->hook(h);
  }
}

std::string TcpConnectProbe::validate(const FileConfig &file) const {
  try {
    std::string why =
        FilterMaps::check(combine_filters(&file.section(name()), cli_));
    return why.empty() ? "" : std::string(name()) + ": " + why;
  } catch (const std::exception &e) {
    return e.what();
  }
}

void TcpConnectProbe::reconfigure(const FileConfig &file,
                                  std::vector<std::string> *) {
  filters_ = combine_filters(&file.section(name()), cli_);
}

SectionSpec tcp_connect_section() {
  SectionSpec spec;
  spec.name = "tcp_connect";
  return spec;
}

}  // namespace pidtree
