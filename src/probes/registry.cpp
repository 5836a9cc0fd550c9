#include "probes/registry.h"

#include "common/net.h"
#include "probes/net_listen/net_listen.h"
#include "probes/tcp_connect/tcp_connect.h"
#include "probes/udp_session/udp_session.h"

namespace pidtree {

namespace {

std::unique_ptr<Probe> make_probe(const std::string &name,
                                  const ProbeConfig &section,
                                  const Options &opt, Backend backend,
                                  uint32_t own_netns) {
  if (name == "tcp_connect")
    return std::make_unique<TcpConnectProbe>(backend, &section,
                                             opt.cli_filters);
  if (name == "net_listen")
    return std::make_unique<NetListenProbe>(backend, section, own_netns);
  if (name == "udp_session")
    return std::make_unique<UdpSessionProbe>(backend, section);
  return nullptr;
}

}  // namespace

const std::vector<SectionSpec> &probe_sections() {
  static const std::vector<SectionSpec> kSections = {
      tcp_connect_section(), net_listen_section(), udp_session_section()};
  return kSections;
}

std::string probe_names() {
  std::string out;
  for (const auto &spec : probe_sections())
    out += (out.empty() ? "" : ", ") + spec.name;
  return out;
}

std::vector<std::unique_ptr<Probe>> make_probes(const Options &opt,
                                                const FileConfig *file,
                                                Backend backend,
                                                uint32_t own_netns) {
  std::vector<std::unique_ptr<Probe>> out;
  for (const auto &spec : probe_sections()) {
    bool wanted = false;
    ProbeConfig section;
    if (file) {
      section = file->section(spec.name);
      wanted = section.present;
    } else {
      for (const auto &name : opt.probes)
        wanted = wanted || name == spec.name;
      section.present = wanted;
    }
    if (wanted)
      out.push_back(make_probe(spec.name, section, opt, backend, own_netns));
  }
  if (out.empty())
    throw InputError(
        file ? "the configuration enables no probe that this version runs "
               "(add a section: " +
                   probe_names() + ")"
             : "no probe to run (--probes takes " + probe_names() + ")");
  return out;
}

}  // namespace pidtree
