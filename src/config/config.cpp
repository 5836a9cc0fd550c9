#include "config/config.h"

#include <limits.h>
#include <stdlib.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "process/procfs.h"

namespace pidtree {

namespace {

constexpr int kMaxIncludeDepth = 16;
// Longest configuration file (each of the file and its includes).
constexpr size_t kMaxConfigBytes = 4u << 20;

// A YAML node, the file it came from and the chain of files that included
// that one (the root file first).
struct Sourced {
  YAML::Node node;
  std::shared_ptr<const std::string> file;
  std::shared_ptr<const std::vector<std::string>> chain;
};

class Loader {
 public:
  Loader(FileConfig *out, const std::vector<SectionSpec> &specs,
         RemoteFiles *remote)
      : out_(out), specs_(specs), remote_(remote) {}

  Sourced load_file(const std::string &path, const Sourced *from);
  // Follows `!include` (also when the included file is itself one).
  Sourced resolve(Sourced s);
  void document(const Sourced &root);

 private:
  [[noreturn]] void fail(const Sourced &at, const std::string &path,
                         const std::string &message) const;
  std::string key_text(const Sourced &map, const YAML::Node &key,
                       const std::string &path);
  void probe(const SectionSpec &spec, const Sourced &value);
  std::vector<NetRule> filters(const Sourced &value, const std::string &path);
  NetRule filter(const Sourced &value, const std::string &path,
                 std::set<std::string> *names);
  Cidr network(const Sourced &network, const Sourced *mask,
               const std::string &path);
  std::vector<PortRange> ports(const Sourced &value, const std::string &path);
  std::vector<PluginConfig> plugins(const Sourced &value,
                                    const std::string &probe,
                                    const std::string &path);
  std::vector<LabelRule> container_labels(const Sourced &value,
                                          const std::string &path);
  bool boolean(const Sourced &value, const std::string &path);
  long integer(const Sourced &value, const std::string &path, long min,
               long max);
  std::string scalar(const Sourced &value, const std::string &path,
                     const char *what);
  Sourced child(const Sourced &parent, const YAML::Node &node) {
    return resolve(Sourced{node, parent.file, parent.chain});
  }
  Sourced at(const Sourced &parent, const YAML::Node &node) {
    return Sourced{node, parent.file, parent.chain};
  }

  // A URL's text, or a ConfigError at `from`.
  std::string fetch(const std::string &url, const Sourced *from);

  FileConfig *out_;
  const std::vector<SectionSpec> &specs_;
  RemoteFiles *remote_;

  friend class pidtree::ConfigValue;
};

}  // namespace

struct ConfigValue::Impl {
  Loader *loader;
  Sourced value;
  std::string path;
};

namespace {

std::string position(const std::string &file, const YAML::Mark &mark) {
  // yaml-cpp counts from 0; editors from 1. A node without a mark (-1)
  // stands for the file's start.
  int line = mark.line >= 0 ? mark.line + 1 : 1;
  int col = mark.column >= 0 ? mark.column + 1 : 1;
  return file + ":" + std::to_string(line) + ":" + std::to_string(col);
}

void Loader::fail(const Sourced &at, const std::string &path,
                  const std::string &message) const {
  // The path holds the file's own keys: control bytes in them are shown
  // escaped, so the error stays one line.
  throw ConfigError(position(*at.file, at.node.Mark()) + ": " +
                    (path.empty() ? "" : printable(path) + ": ") + message);
}

bool is_url(const std::string &path) {
  return path.find("://") != std::string::npos;
}

bool is_http(const std::string &url) {
  return has_url_scheme(url, "http") || has_url_scheme(url, "https");
}

// `path` as included from the URL `base`: a URL as it is, a relative path
// beside the base's own path; "" for an absolute local path (a remote
// file does not get to read this host's files).
std::string url_beside(const std::string &base, const std::string &path) {
  if (is_url(path))
    return path;
  if (path.empty() || path[0] == '/')
    return "";
  std::string dir = base.substr(0, base.find_first_of("?#"));
  size_t host = dir.find("://") + 3;
  size_t slash = dir.rfind('/');
  if (slash == std::string::npos || slash < host)
    dir += '/';
  else
    dir.erase(slash + 1);
  return dir + path;
}

std::string Loader::fetch(const std::string &url, const Sourced *from) {
  std::string why;
  if (!from)
    why =
        "the configuration file itself must be local; !include the "
        "remote one from it";
  else if (!is_http(url))
    why = "'" + printable(url) +
          "': only http:// and https:// includes "
          "are supported";
  else if (!remote_)
    why = "'" + printable(url) + "': remote includes are not read here";
  std::string text;
  if (why.empty() && !(why = remote_->get(url, &text)).empty())
    why = "cannot fetch '" + printable(url) + "': " + why;
  if (why.empty() && text.size() > kMaxConfigBytes)
    why = "'" + printable(url) + "' is larger than " +
          std::to_string(kMaxConfigBytes >> 20) + " MiB";
  if (!why.empty()) {
    if (from)
      fail(*from, "!include", why);
    throw ConfigError(printable(url) + ": " + why);
  }
  return text;
}

Sourced Loader::load_file(const std::string &path, const Sourced *from) {
  // Where `path` is: a URL (as given, or beside the including URL) or a
  // file (beside the including file), and its name in the include chain.
  std::string full = path, canonical;
  if (from && is_url(*from->file)) {
    full = url_beside(*from->file, path);
    if (full.empty())
      fail(*from, "!include",
           "'" + printable(path) +
               "': a remote file may include only URLs "
               "and paths relative to its own URL");
  } else if (from && !path.empty() && path[0] != '/' && !is_url(path)) {
    size_t slash = from->file->rfind('/');
    if (slash != std::string::npos)
      full = from->file->substr(0, slash + 1) + path;
  }
  const bool remote = is_url(full);
  char real[PATH_MAX];
  canonical = remote || !realpath(full.c_str(), real) ? full : real;
  auto chain = std::make_shared<std::vector<std::string>>();
  if (from) {
    *chain = *from->chain;
    if (std::find(chain->begin(), chain->end(), canonical) != chain->end())
      fail(*from, "!include",
           "'" + printable(path) + "' is already being included (a loop)");
    if (chain->size() >= kMaxIncludeDepth)
      fail(*from, "!include",
           "includes nested deeper than " + std::to_string(kMaxIncludeDepth));
  }
  chain->push_back(canonical);
  std::string text;
  if (remote) {
    text = fetch(full, from);
  } else {
    std::string why;
    bool cut = false;
    // A regular file only (read_file refuses a FIFO or device, which
    // would block the loader or never end), of at most kMaxConfigBytes.
    FileRead r = read_file(full, kMaxConfigBytes, &text, &cut, &why);
    if (r == FileRead::kOk && cut)
      why = "larger than " + std::to_string(kMaxConfigBytes >> 20) + " MiB";
    if (r != FileRead::kOk || cut) {
      why = "cannot read '" + printable(full) + "': " + why;
      if (from)
        fail(*from, "!include", why);
      throw ConfigError(printable(full) + ": " + why);
    }
  }
  YAML::Node node;
  try {
    node = YAML::Load(text);
  } catch (const YAML::Exception &e) {
    throw ConfigError(position(remote ? printable(full) : full, e.mark) +
                      ": invalid YAML: " + printable(e.msg));
  }
  std::vector<std::string> &seen = remote ? out_->urls : out_->files;
  if (std::find(seen.begin(), seen.end(), full) == seen.end())
    seen.push_back(full);
  return Sourced{node, std::make_shared<const std::string>(full), chain};
}

Sourced Loader::resolve(Sourced s) {
  while (s.node.Tag() == "!include") {
    if (!s.node.IsScalar())
      fail(s, "!include", "expected a file name");
    s = load_file(s.node.Scalar(), &s);
  }
  return s;
}

std::string Loader::scalar(const Sourced &v, const std::string &path,
                           const char *what) {
  if (!v.node.IsScalar())
    fail(v, path, std::string("expected ") + what);
  return v.node.Scalar();
}

bool Loader::boolean(const Sourced &v, const std::string &path) {
  bool b = false;
  if (!v.node.IsScalar() || !YAML::convert<bool>::decode(v.node, b))
    fail(v, path, "expected true or false");
  return b;
}

long Loader::integer(const Sourced &v, const std::string &path, long min,
                     long max) {
  std::string text = scalar(v, path, "a number");
  bool digits = !text.empty() && text.size() <= 18 &&
                std::all_of(text.begin(), text.end(),
                            [](char c) { return c >= '0' && c <= '9'; });
  long n = digits ? std::stol(text) : -1;
  if (!digits || n < min || n > max)
    fail(v, path,
         "expected a whole number from " + std::to_string(min) + " to " +
             std::to_string(max) + ", got '" + printable(text) + "'");
  return n;
}

std::string Loader::key_text(const Sourced &map, const YAML::Node &key,
                             const std::string &path) {
  if (!key.IsScalar())
    fail(at(map, key), path, "expected a plain key");
  return key.Scalar();
}

std::vector<PortRange> Loader::ports(const Sourced &v,
                                     const std::string &path) {
  if (!v.node.IsSequence())
    fail(v, path, "expected a list of ports or ranges, e.g. [22, 8000-9000]");
  std::vector<PortRange> out;
  for (size_t i = 0; i < v.node.size(); ++i) {
    Sourced item = child(v, v.node[i]);
    std::string item_path = path + "[" + std::to_string(i) + "]";
    std::string text = scalar(item, item_path, "a port or a range");
    try {
      out.push_back(parse_port_range(text));
    } catch (const InputError &e) {
      fail(item, item_path, e.what());
    }
  }
  return out;
}

Cidr Loader::network(const Sourced &net, const Sourced *mask,
                     const std::string &path) {
  const std::string net_path = path + ".network";
  const std::string mask_path = path + ".network_mask";
  std::string text = scalar(net, net_path, "an address");
  size_t slash = text.find('/');
  if (slash != std::string::npos && mask)
    fail(*mask, mask_path,
         "the network already has a prefix length; give one or the other");
  if (slash == std::string::npos && !mask)
    fail(net, path,
         "network_mask is missing (or write the network as address/length)");
  IpAddress addr;
  try {
    addr = parse_ip(text.substr(0, slash));
  } catch (const InputError &e) {
    fail(net, net_path, e.what());
  }
  const long max = static_cast<long>(addr.max_prefix());
  unsigned prefix = 0;
  if (slash != std::string::npos) {
    std::string len = text.substr(slash + 1);
    bool digits = !len.empty() && len.size() <= 3 &&
                  (len.size() == 1 || len[0] != '0') &&
                  std::all_of(len.begin(), len.end(),
                              [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || std::stol(len) > max)
      fail(net, net_path,
           "prefix length must be 0-" + std::to_string(max) + ", got '" +
               printable(len) + "'");
    prefix = static_cast<unsigned>(std::stol(len));
  } else {
    std::string mask_text =
        scalar(*mask, mask_path, "a mask (255.0.0.0, ffff:ff00:: or 8)");
    if (!mask_text.empty() &&
        std::all_of(mask_text.begin(), mask_text.end(),
                    [](char c) { return c >= '0' && c <= '9'; })) {
      prefix = static_cast<unsigned>(integer(*mask, mask_path, 0, max));
    } else {
      IpAddress m;
      try {
        m = parse_ip(mask_text);
      } catch (const InputError &) {
        fail(*mask, mask_path,
             "expected a mask like 255.255.0.0 (IPv4), ffff:ffff:: (IPv6) "
             "or a prefix length, got '" +
                 printable(mask_text) + "'");
      }
      if (m.family != addr.family)
        fail(*mask, mask_path,
             "the mask and the network are not of one family");
      // Leading ones, then zeros only: anything else is a non-contiguous
      // mask, which no prefix can express.
      bool zero_seen = false;
      for (size_t i = 0; i < m.size(); ++i)
        for (int bit = 7; bit >= 0; --bit) {
          bool one = (m.bytes[i] >> bit) & 1;
          if (one && zero_seen)
            fail(*mask, mask_path,
                 "'" + printable(mask_text) +
                     "' is not a contiguous mask (ones, then zeros)");
          if (one)
            ++prefix;
          else
            zero_seen = true;
        }
    }
  }
  IpAddress masked = mask_address(addr, prefix);
  if (!(masked == addr))
    out_->notes.push_back(position(*net.file, net.node.Mark()) + ": " +
                          net_path + ": " + format_ip(addr) + "/" +
                          std::to_string(prefix) +
                          " has host bits set; using " + format_ip(masked) +
                          "/" + std::to_string(prefix));
  try {
    // Also refuses IPv4-mapped IPv6 networks, as on the command line.
    return parse_cidr(format_ip(masked) + "/" + std::to_string(prefix));
  } catch (const InputError &e) {
    fail(net, net_path, e.what());
  }
}

NetRule Loader::filter(const Sourced &v, const std::string &path,
                       std::set<std::string> *names) {
  if (!v.node.IsMap())
    fail(v, path,
         "expected a filter (subnet_name, network, network_mask, ...)");
  std::map<std::string, Sourced> fields;
  for (auto kv : v.node) {
    std::string key = key_text(v, kv.first, path);
    static const std::set<std::string> kKeys = {
        "subnet_name", "network",      "network_mask",
        "description", "except_ports", "include_ports"};
    if (!kKeys.count(key))
      fail(at(v, kv.first), path,
           "unknown key '" + printable(key) +
               "' (expected subnet_name, network, network_mask, "
               "description, except_ports or include_ports)");
    fields[key] = child(v, kv.second);
  }
  if (!fields.count("subnet_name"))
    fail(v, path, "subnet_name is missing");
  std::string name =
      scalar(fields["subnet_name"], path + ".subnet_name", "a name");
  if (!names->insert(name).second)
    fail(fields["subnet_name"], path + ".subnet_name",
         "'" + printable(name) +
             "' is used by another filter (names must "
             "be unique)");
  if (fields.count("description"))
    scalar(fields["description"], path + ".description", "text");
  if (!fields.count("network"))
    fail(v, path, "network is missing");
  NetRule rule;
  rule.network = network(
      fields["network"],
      fields.count("network_mask") ? &fields["network_mask"] : nullptr, path);
  if (fields.count("except_ports") && fields.count("include_ports"))
    fail(fields["include_ports"], path + ".include_ports",
         "a filter takes except_ports or include_ports, not both");
  if (fields.count("except_ports")) {
    rule.mode = RulePorts::kExcept;
    rule.ports = ports(fields["except_ports"], path + ".except_ports");
  } else if (fields.count("include_ports")) {
    rule.mode = RulePorts::kOnly;
    rule.ports = ports(fields["include_ports"], path + ".include_ports");
  }
  return rule;
}

std::vector<NetRule> Loader::filters(const Sourced &v,
                                     const std::string &path) {
  if (v.node.IsNull())
    return {};
  if (!v.node.IsSequence())
    fail(v, path, "expected a list of filters");
  std::vector<NetRule> rules;
  std::set<std::string> names;
  std::map<std::string, std::string> networks;  // network -> where
  for (size_t i = 0; i < v.node.size(); ++i) {
    std::string item_path = path + "[" + std::to_string(i) + "]";
    Sourced item = child(v, v.node[i]);
    NetRule rule = filter(item, item_path, &names);
    std::string net = format_cidr(rule.network);
    auto [it, fresh] = networks.emplace(net, item_path);
    if (!fresh)
      fail(item, item_path,
           "network " + net + " is already filtered by " + it->second +
               " (each network once; the most specific one decides)");
    rules.push_back(std::move(rule));
  }
  return rules;
}

// The probes each plugin serves (as upstream).
bool plugin_serves(const std::string &plugin, const std::string &probe) {
  if (plugin == "sourceipmap")
    return probe == "tcp_connect";
  if (plugin == "loginuidmap")
    return probe == "tcp_connect" || probe == "net_listen";
  return true;  // identityplugin
}

std::vector<PluginConfig> Loader::plugins(const Sourced &v,
                                          const std::string &probe,
                                          const std::string &path) {
  std::vector<PluginConfig> out;
  if (v.node.IsNull())
    return out;
  if (!v.node.IsMap())
    fail(v, path, "expected a map of plugin names to their settings");
  // The plugins of Yelp's pidtree-bcc and their settings.
  static const std::map<std::string, std::set<std::string>> kPlugins = {
      {"sourceipmap",
       {"enabled", "unload_on_init_exception", "hostfiles", "attribute_key"}},
      {"loginuidmap", {"enabled", "unload_on_init_exception", "top_level"}},
      {"identityplugin", {"enabled", "unload_on_init_exception"}},
  };
  for (auto kv : v.node) {
    std::string name = key_text(v, kv.first, path);
    std::string p = path + "." + name;
    Sourced settings = child(v, kv.second);
    if (!settings.node.IsNull() && !settings.node.IsMap())
      fail(settings, p, "expected the plugin's settings (a map)");
    // enabled and unload_on_init_exception first: they decide what the
    // other problems do.
    PluginConfig plugin;
    plugin.name = name;
    plugin.where =
        position(*settings.file, settings.node.Mark()) + ": " + printable(p);
    bool enabled = true;
    if (settings.node.IsMap()) {
      for (auto s : settings.node) {
        std::string key = key_text(settings, s.first, p);
        if (key == "enabled")
          enabled = boolean(child(settings, s.second), p + ".enabled");
        else if (key == "unload_on_init_exception")
          plugin.unload_on_init_exception =
              boolean(child(settings, s.second), p + "." + key);
      }
    }
    if (!enabled)
      continue;
    // Everything else is the plugin's start: with unload_on_init_exception
    // a problem unloads the plugin, with a note, as upstream.
    try {
      auto known = kPlugins.find(name);
      if (known == kPlugins.end())
        fail(at(v, kv.first), path,
             "unknown plugin '" + printable(name) +
                 "' (expected sourceipmap, loginuidmap or identityplugin)");
      if (!plugin_serves(name, probe))
        fail(
            at(v, kv.first), p,
            "plugin " + name + " does not support probe " + probe +
                (name == "sourceipmap" ? " (only tcp_connect)"
                                       : " (only tcp_connect and net_listen)"));
      bool has_hostfiles = false;
      if (settings.node.IsMap()) {
        for (auto s : settings.node) {
          std::string key = key_text(settings, s.first, p);
          if (!known->second.count(key))
            fail(at(settings, s.first), p,
                 "unknown setting '" + printable(key) + "' of plugin " + name);
          Sourced val = child(settings, s.second);
          if (key == "top_level") {
            plugin.top_level = boolean(val, p + "." + key);
          } else if (key == "hostfiles") {
            has_hostfiles = true;
            if (!val.node.IsSequence() || val.node.size() == 0)
              fail(val, p + "." + key, "expected a list of host files (paths)");
            for (size_t i = 0; i < val.node.size(); ++i)
              plugin.hostfiles.push_back(
                  scalar(child(val, val.node[i]),
                         p + "." + key + "[" + std::to_string(i) + "]",
                         "a file path"));
          } else if (key == "attribute_key") {
            plugin.attribute_key = scalar(val, p + "." + key, "a field name");
            if (plugin.attribute_key.empty())
              fail(val, p + "." + key, "expected a field name, not \"\"");
          }
        }
      }
      if (name == "sourceipmap" && !has_hostfiles)
        fail(settings, p, "sourceipmap needs 'hostfiles' (a list of files)");
    } catch (const ConfigError &e) {
      if (!plugin.unload_on_init_exception)
        throw;
      out_->notes.push_back(std::string(e.what()) +
                            "; plugin unloaded (unload_on_init_exception)");
      continue;
    }
    out.push_back(std::move(plugin));
  }
  return out;
}

std::vector<LabelRule> Loader::container_labels(const Sourced &v,
                                                const std::string &path) {
  std::vector<LabelRule> out;
  if (v.node.IsNull())
    return out;
  if (!v.node.IsSequence())
    fail(v, path, "expected a list of label patterns (KEY=GLOB,KEY=GLOB...)");
  for (size_t i = 0; i < v.node.size(); ++i) {
    std::string p = path + "[" + std::to_string(i) + "]";
    Sourced item = child(v, v.node[i]);
    std::string text = scalar(item, p, "a label pattern (KEY=GLOB,...)");
    LabelRule rule;
    size_t from = 0;
    while (from <= text.size()) {
      size_t comma = text.find(',', from);
      std::string term = text.substr(
          from, comma == std::string::npos ? std::string::npos : comma - from);
      size_t eq = term.find('=');
      if (eq == std::string::npos || eq == 0)
        fail(item, p,
             "expected KEY=GLOB for each comma-separated term, not '" +
                 printable(term) + "'");
      rule.terms.emplace_back(term.substr(0, eq), term.substr(eq + 1));
      if (comma == std::string::npos)
        break;
      from = comma + 1;
    }
    out.push_back(std::move(rule));
  }
  return out;
}

void Loader::probe(const SectionSpec &spec, const Sourced &v) {
  static const std::vector<std::string> kCommon = {
      "filters", "includeports", "excludeports", "plugins", "container_labels"};
  const std::string &name = spec.name;
  if (!v.node.IsNull() && !v.node.IsMap())
    fail(v, name, "expected the probe's settings (a map)");
  ProbeConfig probe;
  probe.present = true;
  bool has_include = false, has_exclude = false;
  std::vector<std::pair<std::string, ConfigValue>> own;
  if (v.node.IsMap()) {
    for (auto kv : v.node) {
      std::string key = key_text(v, kv.first, name);
      std::string path = name + "." + key;
      Sourced val = child(v, kv.second);
      if (key == "filters") {
        probe.has_filters = true;
        probe.rules = filters(val, path);
      } else if (key == "includeports") {
        has_include = true;
        probe.port_mode = PortMode::kInclude;
        probe.ports = ports(val, path);
      } else if (key == "excludeports") {
        has_exclude = true;
        probe.port_mode = PortMode::kExclude;
        probe.ports = ports(val, path);
      } else if (key == "plugins") {
        probe.plugins = plugins(val, name, path);
      } else if (key == "container_labels") {
        probe.container_labels = container_labels(val, path);
      } else if (std::find(spec.keys.begin(), spec.keys.end(), key) !=
                 spec.keys.end()) {
        own.emplace_back(key, ConfigValue(std::make_shared<ConfigValue::Impl>(
                                  ConfigValue::Impl{this, val, path})));
      } else {
        std::string expected;
        std::vector<std::string> all = kCommon;
        all.insert(all.end(), spec.keys.begin(), spec.keys.end());
        for (size_t i = 0; i < all.size(); ++i)
          expected += (i == 0                ? ""
                       : i + 1 == all.size() ? " or "
                                             : ", ") +
                      all[i];
        fail(
            at(v, kv.first), name,
            "unknown key '" + printable(key) + "' (expected " + expected + ")");
      }
      if (has_include && has_exclude)
        fail(val, path, "includeports and excludeports cannot be combined");
    }
  }
  if (spec.parse)
    probe.settings = spec.parse(own, &out_->notes);
  out_->sections[name] = std::move(probe);
}

void Loader::document(const Sourced &root_in) {
  Sourced root = resolve(root_in);
  if (root.node.IsNull())
    return;  // an empty file: nothing configured
  if (!root.node.IsMap())
    fail(root, "", "expected a map of probe names (tcp_connect, ...)");
  for (auto kv : root.node) {
    std::string key = key_text(root, kv.first, "");
    if (!key.empty() && key[0] == '_')
      continue;  // anchors and other private blocks
    auto spec =
        std::find_if(specs_.begin(), specs_.end(),
                     [&](const SectionSpec &s) { return s.name == key; });
    if (spec == specs_.end()) {
      std::string names;
      for (const auto &s : specs_)
        names += s.name + ", ";
      fail(at(root, kv.first), "",
           "unknown probe '" + printable(key) + "' (expected " + names +
               "or a key starting with _)");
    }
    probe(*spec, child(root, kv.second));
  }
}

}  // namespace

FileConfig load_config(const std::string &path, RemoteFiles *remote) {
  return load_config(path, probe_sections(), remote);
}

FileConfig load_config(const std::string &path,
                       const std::vector<SectionSpec> &specs,
                       RemoteFiles *remote) {
  FileConfig out;
  Loader loader(&out, specs, remote);
  try {
    Sourced root = loader.load_file(path, nullptr);
    loader.document(root);
  } catch (const YAML::Exception &e) {
    // Conversions inside yaml-cpp; positions are best effort here.
    throw ConfigError(printable(path) + ":" + std::to_string(e.mark.line + 1) +
                      ":" + std::to_string(e.mark.column + 1) +
                      ": invalid configuration: " + printable(e.msg));
  }
  return out;
}

const std::string &ConfigValue::path() const { return impl_->path; }

bool ConfigValue::is_null() const { return impl_->value.node.IsNull(); }

std::optional<bool> ConfigValue::as_bool() const {
  bool b = false;
  if (impl_->value.node.IsScalar() &&
      YAML::convert<bool>::decode(impl_->value.node, b))
    return b;
  return std::nullopt;
}

bool ConfigValue::boolean() const {
  return impl_->loader->boolean(impl_->value, impl_->path);
}

long ConfigValue::integer(long min, long max) const {
  return impl_->loader->integer(impl_->value, impl_->path, min, max);
}

std::string ConfigValue::scalar(const char *what) const {
  return impl_->loader->scalar(impl_->value, impl_->path, what);
}

std::vector<ConfigValue> ConfigValue::items(const char *what) const {
  const Sourced &v = impl_->value;
  if (!v.node.IsSequence())
    fail(std::string("expected ") + what);
  std::vector<ConfigValue> out;
  for (size_t i = 0; i < v.node.size(); ++i)
    out.emplace_back(std::make_shared<Impl>(
        Impl{impl_->loader, impl_->loader->child(v, v.node[i]),
             impl_->path + "[" + std::to_string(i) + "]"}));
  return out;
}

std::string ConfigValue::where() const {
  return position(*impl_->value.file, impl_->value.node.Mark()) + ": " +
         impl_->path;
}

void ConfigValue::fail(const std::string &message) const {
  impl_->loader->fail(impl_->value, impl_->path, message);
}

const ProbeConfig &FileConfig::section(const std::string &probe) const {
  static const ProbeConfig kAbsent;
  auto it = sections.find(probe);
  return it == sections.end() ? kAbsent : it->second;
}

FilterConfig section_filters(const ProbeConfig &section) {
  FilterConfig out;
  out.rules = section.rules;
  out.port_mode = section.port_mode;
  out.ports = section.ports;
  return out;
}

FilterConfig combine_filters(const ProbeConfig *probe,
                             const CommandLineFilters &cli) {
  FilterConfig out;
  if (probe && !probe->present)
    probe = nullptr;
  if (probe && probe->has_filters)
    out.rules = probe->rules;
  else if (!cli.no_default_filters)
    out.rules = default_rules();
  for (const Cidr &net : cli.networks) {
    auto same =
        std::find_if(out.rules.begin(), out.rules.end(),
                     [&](const NetRule &r) { return r.network == net; });
    // The command line's filter drops every port of its network.
    if (same != out.rules.end())
      *same = NetRule{net, RulePorts::kAll, {}};
    else
      out.rules.push_back(NetRule{net, RulePorts::kAll, {}});
  }
  PortMode file_mode = probe ? probe->port_mode : PortMode::kNone;
  if (file_mode != PortMode::kNone && cli.port_mode != PortMode::kNone &&
      file_mode != cli.port_mode)
    throw InputError(
        std::string(cli.port_mode == PortMode::kInclude ? "--include-ports"
                                                        : "--exclude-ports") +
        " cannot be combined with the configuration's " +
        (file_mode == PortMode::kInclude ? "includeports" : "excludeports"));
  out.port_mode = cli.port_mode != PortMode::kNone ? cli.port_mode : file_mode;
  if (probe && file_mode != PortMode::kNone)
    out.ports = probe->ports;
  out.ports.insert(out.ports.end(), cli.ports.begin(), cli.ports.end());
  return out;
}

}  // namespace pidtree
