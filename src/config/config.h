// The configuration file: Yelp pidtree-bcc's YAML format, validated. Every
// error names the file, line and column and what was expected.
//
// A file is a map of probe sections (tcp_connect:, net_listen:, ...). The
// keys every probe has (filters, includeports, excludeports, plugins,
// container_labels) are read here; the keys of one probe only are read by
// that probe (its SectionSpec), through ConfigValue, with the same errors.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "config/filters.h"

namespace pidtree {

// what(): "FILE:LINE:COL: PATH: message", one line.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One value of the file, with where it is, for a probe's own keys.
class ConfigValue {
 public:
  struct Impl;
  explicit ConfigValue(std::shared_ptr<const Impl> impl)
      : impl_(std::move(impl)) {}

  const std::string &path() const;  // e.g. "net_listen.protocols"
  bool is_null() const;
  // A YAML boolean (true/false, yes/no, on/off); nullopt for anything else.
  std::optional<bool> as_bool() const;
  // The value as each type, or a ConfigError that says what was expected.
  bool boolean() const;
  long integer(long min, long max) const;
  std::string scalar(const char *what) const;
  // The items of a list (includes followed), or a ConfigError.
  std::vector<ConfigValue> items(const char *what) const;
  // "FILE:LINE:COL: PATH" for notes.
  std::string where() const;
  [[noreturn]] void fail(const std::string &message) const;

 private:
  std::shared_ptr<const Impl> impl_;
};

// One plugin of a probe's `plugins` (upstream's names and settings).
struct PluginConfig {
  std::string name;  // sourceipmap, loginuidmap or identityplugin
  bool unload_on_init_exception = false;
  std::vector<std::string> hostfiles;         // sourceipmap
  std::string attribute_key = "source_host";  // sourceipmap
  bool top_level = false;                     // loginuidmap
  // "FILE:LINE:COL: PROBE.plugins.NAME", for the errors of its start.
  std::string where;
};

// One entry of container_labels, "k=glob,k2=glob2": a container matches
// when it has every key with a value the glob matches (fnmatch). Entries
// are OR'ed.
struct LabelRule {
  std::vector<std::pair<std::string, std::string>> terms;  // key, glob
};

// What a probe keeps of its own keys (derived per probe).
struct ProbeSettings {
  virtual ~ProbeSettings() = default;
};

struct ProbeConfig {
  bool present = false;      // the probe's key is in the file
  bool has_filters = false;  // it names `filters` (then no defaults apply)
  std::vector<NetRule> rules;
  PortMode port_mode = PortMode::kNone;
  std::vector<PortRange> ports;
  // Enabled plugins, in file order (disabled ones, and those unloaded by
  // unload_on_init_exception, are left out).
  std::vector<PluginConfig> plugins;
  // Only events of containers matching one of these (empty: no filter).
  std::vector<LabelRule> container_labels;
  // The probe's own keys, parsed by its SectionSpec (nullptr: none).
  std::shared_ptr<const ProbeSettings> settings;

  template <typename T>
  const T *settings_as() const {
    return dynamic_cast<const T *>(settings.get());
  }
};

// How the loader treats one probe's section.
struct SectionSpec {
  std::string name;
  // The probe's own keys, besides the common ones, as "expected ..." lists
  // them.
  std::vector<std::string> keys;
  // Reads the probe's own keys (those present, in file order; the rest take
  // their defaults); nullptr when the probe has none. May add notes.
  std::function<std::shared_ptr<const ProbeSettings>(
      const std::vector<std::pair<std::string, ConfigValue>> &keys,
      std::vector<std::string> *notes)>
      parse;
};

struct FileConfig {
  // The sections present in the file, by probe name.
  std::map<std::string, ProbeConfig> sections;
  // Things accepted but not acted on (probes and plugins that do not exist
  // yet), one line each, for stderr.
  std::vector<std::string> notes;
  // The file and every local file it includes, to watch for changes.
  std::vector<std::string> files;
  // The http(s) URLs it includes (src/config/remote.h keeps and refetches
  // them).
  std::vector<std::string> urls;

  // The probe's section; an absent one (present == false) if not in the
  // file.
  const ProbeConfig &section(const std::string &probe) const;
};

// Every probe's section, in the order the probes are listed (defined by
// the probe registry, src/probes/registry.cpp).
const std::vector<SectionSpec> &probe_sections();

// Where `!include http://` and `https://` files come from
// (RemoteIncludes, src/config/remote.h).
class RemoteFiles {
 public:
  virtual ~RemoteFiles() = default;
  // "" with the file's text, or why not.
  virtual std::string get(const std::string &url, std::string *text) = 0;
};

// Reads and validates `path` (and its !include files; URLs through
// `remote`, refused without one). Throws ConfigError.
FileConfig load_config(const std::string &path,
                       const std::vector<SectionSpec> &specs = probe_sections(),
                       RemoteFiles *remote = nullptr);
FileConfig load_config(const std::string &path, RemoteFiles *remote);

// The command line's filters. They apply to tcp_connect only.
struct CommandLineFilters {
  bool no_default_filters = false;
  std::vector<Cidr> networks;
  PortMode port_mode = PortMode::kNone;
  std::vector<PortRange> ports;
};

// tcp_connect's filters in force: the file's section (or the defaults, when
// the file names no filters for tcp_connect and defaults are not disabled),
// plus the command line's --filter networks and ports. Throws InputError
// when they clash.
FilterConfig combine_filters(const ProbeConfig *section,
                             const CommandLineFilters &cli);

// A section's filters as they are, with no defaults (the other probes).
FilterConfig section_filters(const ProbeConfig &section);

}  // namespace pidtree
