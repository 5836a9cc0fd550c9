#include "enrich/plugins.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/net.h"
#include "process/procfs.h"

namespace pidtree {

namespace {

constexpr size_t kMaxHostFile = 64 << 20;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

}  // namespace

void parse_hosts(const std::string &text,
                 std::unordered_map<std::string, std::string> *out,
                 size_t *skipped) {
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    size_t end = nl == std::string::npos ? text.size() : nl;
    size_t hash = text.find('#', at);
    if (hash != std::string::npos && hash < end)
      end = hash;
    std::vector<std::string> words;
    size_t i = at;
    while (i < end) {
      while (i < end && is_space(text[i]))
        ++i;
      size_t start = i;
      while (i < end && !is_space(text[i]))
        ++i;
      if (i > start)
        words.emplace_back(text, start, i - start);
    }
    at = nl == std::string::npos ? text.size() : nl + 1;
    if (words.empty())
      continue;
    std::string address;
    try {
      address = format_ip(parse_ip(words[0]));
    } catch (const InputError &) {
      ++*skipped;
      continue;
    }
    std::string rest;
    for (size_t w = 1; w < words.size(); ++w)
      rest += (w > 1 ? " " : "") + words[w];
    (*out)[address] = std::move(rest);
  }
}

SourceIpMap::SourceIpMap(std::vector<std::string> files,
                         std::string attribute_key, Clock::duration check)
    : check_(check) {
  key_ = ",";
  append_json_string(&key_, attribute_key);
  key_.push_back(':');
  for (auto &path : files) {
    File f;
    f.path = std::move(path);
    std::string why;
    if (!load(&f, &why))
      throw std::runtime_error(why);
    files_.push_back(std::move(f));
  }
  merge();
  last_check_ = Clock::now();
}

bool SourceIpMap::load(File *f, std::string *why) {
  struct stat st {};
  if (stat(f->path.c_str(), &st) != 0) {
    *why = "cannot read host file '" + printable(f->path) +
           "': " + std::strerror(errno);
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    *why = "host file '" + printable(f->path) + "' is not a regular file";
    return false;
  }
  std::string text;
  bool cut = false;
  FileRead r = read_file(f->path, kMaxHostFile, &text, &cut);
  if (r != FileRead::kOk) {
    *why = "cannot read host file '" + printable(f->path) + "'";
    return false;
  }
  if (cut) {
    *why = "host file '" + printable(f->path) + "' is larger than 64 MiB";
    return false;
  }
  std::unordered_map<std::string, std::string> hosts;
  size_t skipped = 0;
  parse_hosts(text, &hosts, &skipped);
  f->hosts = std::move(hosts);
  f->stamp = File::Stamp::of(st);
  f->missing = false;
  return true;
}

void SourceIpMap::merge() {
  merged_.clear();
  for (const File &f : files_)
    for (const auto &[addr, names] : f.hosts)
      merged_[addr] = names;  // the later file wins
}

void SourceIpMap::add_fields(const EventOrigin &origin, std::string *fields) {
  fields->append(key_);
  if (!origin.saddr) {
    fields->append("\"\"");
    return;
  }
  auto it = merged_.find(format_ip(*origin.saddr));
  if (it == merged_.end() && origin.saddr->family == Family::kIpv6) {
    // An IPv4-mapped source is looked up as the IPv4 address it is.
    const auto &b = origin.saddr->bytes;
    bool mapped = b[10] == 0xff && b[11] == 0xff;
    for (int i = 0; i < 10 && mapped; ++i)
      mapped = b[i] == 0;
    if (mapped)
      it = merged_.find(format_ip(Family::kIpv4, b.data() + 12));
  }
  if (it == merged_.end())
    fields->append("\"\"");
  else
    append_json_string(fields, it->second);
}

void SourceIpMap::maintain(Clock::time_point now,
                           std::vector<std::string> *notes) {
  if (now - last_check_ < check_)
    return;
  last_check_ = now;
  bool changed = false;
  for (File &f : files_) {
    struct stat st {};
    if (stat(f.path.c_str(), &st) != 0) {
      if (!f.missing) {
        f.missing = true;
        notes->push_back("sourceipmap: host file '" + printable(f.path) +
                         "' is gone (" + std::strerror(errno) +
                         "); its last contents stay in use");
      }
      continue;
    }
    if (!f.missing && File::Stamp::of(st) == f.stamp)
      continue;
    std::string why;
    const bool was_missing = f.missing;
    if (load(&f, &why)) {
      changed = true;
      if (was_missing)
        notes->push_back("sourceipmap: host file '" + printable(f.path) +
                         "' is back");
    } else if (!f.missing) {
      f.missing = true;
      notes->push_back("sourceipmap: " + why +
                       "; its last contents stay in use");
    }
  }
  if (changed)
    merge();
}

std::unique_ptr<Plugin> make_plugin(const PluginConfig &config) {
  if (config.name == "sourceipmap")
    return std::make_unique<SourceIpMap>(config.hostfiles,
                                         config.attribute_key);
  if (config.name == "loginuidmap")
    return std::make_unique<LoginUidMap>(config.top_level);
  return std::make_unique<IdentityPlugin>();
}

}  // namespace pidtree
