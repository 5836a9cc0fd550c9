// The configuration file: Yelp pidtree-bcc's YAML format, validated. Every
// error names the file, line and column and what was expected.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "config/filters.h"

namespace pidtree {

// what(): "FILE:LINE:COL: PATH: message", one line.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ProbeConfig {
  bool present = false;      // the probe's key is in the file
  bool has_filters = false;  // it names `filters` (then no defaults apply)
  std::vector<NetRule> rules;
  PortMode port_mode = PortMode::kNone;
  std::vector<PortRange> ports;
};

struct FileConfig {
  ProbeConfig tcp_connect;
  // Things accepted but not acted on (probes and plugins that do not exist
  // yet), one line each, for stderr.
  std::vector<std::string> notes;
  // The file and everything it includes, to watch for changes.
  std::vector<std::string> files;
};

// Reads and validates `path` (and its !include files). Throws ConfigError.
FileConfig load_config(const std::string &path);

// The filters in force: the file's (or the defaults, when the file names no
// filters for tcp_connect and defaults are not disabled), plus the command
// line's --filter networks and ports. Throws InputError when they clash.
struct CommandLineFilters {
  bool no_default_filters = false;
  std::vector<Cidr> networks;
  PortMode port_mode = PortMode::kNone;
  std::vector<PortRange> ports;
};
FilterConfig combine_filters(const FileConfig *file,
                             const CommandLineFilters &cli);

}  // namespace pidtree
