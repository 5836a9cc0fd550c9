// Every probe this version has, and which of them a run enables.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/options.h"
#include "probes/probe.h"

namespace pidtree {

// The probes named by --probes (without a file), else the sections of the
// configuration file, in the registry's order. `backend` is resolved (not
// kAuto); `own_netns` is the tracer's network namespace. Throws InputError
// with a one-line reason (no probe to run, an unknown name).
std::vector<std::unique_ptr<Probe>> make_probes(const Options &opt,
                                                const FileConfig *file,
                                                Backend backend,
                                                uint32_t own_netns);

// The names --probes takes: "tcp_connect, net_listen".
std::string probe_names();

}  // namespace pidtree
