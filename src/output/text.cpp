#include "output/text.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>

namespace pidtree {

namespace {

using Json = nlohmann::ordered_json;

constexpr const char *kReset = "\033[0m";
constexpr const char *kBold = "\033[1m";
constexpr const char *kDim = "\033[2m";
constexpr const char *kRed = "\033[31m";
constexpr const char *kYellow = "\033[33m";
constexpr const char *kCyan = "\033[36m";

// Fields that the headline, the "by" line, the container line or the tree
// show; every other field is listed as key=value.
constexpr const char *kShown[] = {"timestamp",
                                  "type",
                                  "probe",
                                  "pid",
                                  "tid",
                                  "comm",
                                  "uid",
                                  "username",
                                  "family",
                                  "saddr",
                                  "sport",
                                  "daddr",
                                  "port",
                                  "laddr",
                                  "protocol",
                                  "destinations",
                                  "proctree",
                                  "error",
                                  "container_name",
                                  "container_id",
                                  "container_runtime",
                                  "container_image",
                                  "container_labels"};

// Trees deeper than this are drawn without further indentation.
constexpr size_t kMaxIndent = 12;

// Longest command line the view shows of a node (in bytes, cut at a
// character boundary); the rest is counted, and the JSON has it whole. One
// ancestor's 10 MB argv would otherwise fill the terminal and push the
// event's headline out of sight.
constexpr size_t kMaxViewCmdline = 512;

bool shown(const std::string &key) {
  return std::any_of(std::begin(kShown), std::end(kShown),
                     [&key](const char *k) { return key == k; });
}

// `text` with C0 and C1 controls, DEL and the bidirectional overrides and
// isolates (U+202A-U+202E, U+2066-U+2069, which reorder what a terminal
// shows) written as escapes.
void append_printable(std::string *out, std::string_view text) {
  char buf[16];
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out->append(buf);
      continue;
    }
    if (c == 0xc2 && i + 1 < text.size()) {
      auto d = static_cast<unsigned char>(text[i + 1]);
      if (d >= 0x80 && d <= 0x9f) {
        std::snprintf(buf, sizeof(buf), "\\u%04x", d);
        out->append(buf);
        ++i;
        continue;
      }
    }
    if (c == 0xe2 && i + 2 < text.size()) {
      auto d = static_cast<unsigned char>(text[i + 1]);
      auto e = static_cast<unsigned char>(text[i + 2]);
      unsigned cp = 0x2000u | ((d & 0x3fu) << 6) | (e & 0x3fu);
      if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) {
        std::snprintf(buf, sizeof(buf), "\\u%04x", cp);
        out->append(buf);
        i += 2;
        continue;
      }
    }
    out->push_back(static_cast<char>(c));
  }
}

// A value as a person reads it: strings bare, the rest as compact JSON.
std::string plain(const Json &v) {
  if (v.is_string())
    return v.get<std::string>();
  return v.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// `s` cut to at most `max` bytes, not inside a UTF-8 sequence, with what
// was left out counted.
std::string shorten(std::string s, size_t max) {
  if (s.size() <= max)
    return s;
  size_t cut = max;
  // Back up over continuation bytes (10xxxxxx) to a sequence's start.
  for (size_t k = 0;
       k < 3 && cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80;
       ++k)
    --cut;
  const size_t left = s.size() - cut;
  s.resize(cut);
  s += "\u2026 (" + std::to_string(left) + " more bytes)";
  return s;
}

const Json *field(const Json &j, const char *key) {
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

class Writer {
 public:
  Writer(bool colour, std::string *out) : colour_(colour), out_(out) {}

  void text(std::string_view s) { append_printable(out_, s); }
  void raw(std::string_view s) { out_->append(s); }
  void styled(const char *style, std::string_view s) {
    if (colour_)
      out_->append(style);
    text(s);
    if (colour_)
      out_->append(kReset);
  }
  // addr:port, [addr]:port for IPv6.
  void endpoint(const Json &addr, const Json *port) {
    std::string a = plain(addr);
    std::string s = a.find(':') != std::string::npos ? "[" + a + "]" : a;
    if (port)
      s += ":" + plain(*port);
    styled(kCyan, s);
  }
  // before + the value of j[key] + after, when j has it.
  void optional(const Json &j, const char *key, std::string_view before,
                std::string_view after = "") {
    if (const Json *v = field(j, key)) {
      raw(before);
      text(plain(*v));
      raw(after);
    }
  }
  // `sep`key=value
  void pair(std::string_view sep, const std::string &key, const Json &value) {
    raw(sep);
    text(key + "=" + plain(value));
  }

 private:
  bool colour_;
  std::string *out_;
};

void headline(const Json &j, Writer &w) {
  if (const Json *ts = field(j, "timestamp")) {
    std::string t = plain(*ts);
    std::replace(t.begin(), t.end(), 'T', ' ');
    w.styled(kDim, t);
    w.raw("  ");
  }
  if (const Json *probe = field(j, "probe"))
    w.styled(kBold, plain(*probe));
  else if (const Json *type = field(j, "type"))
    w.styled(kBold, "[" + plain(*type) + "]");
  if (const Json *laddr = field(j, "laddr")) {
    w.raw("  listen ");
    w.optional(j, "protocol", "", " ");
    w.endpoint(*laddr, field(j, "port"));
    return;
  }
  const Json *daddr = field(j, "daddr");
  const Json *saddr = field(j, "saddr");
  if (!daddr && !saddr)
    return;
  w.raw("  ");
  w.optional(j, "protocol", "", " ");
  if (saddr) {
    w.endpoint(*saddr, field(j, "sport"));
    w.raw(" ");
  }
  w.raw("->");
  if (daddr) {
    w.raw(" ");
    w.endpoint(*daddr, field(j, "port"));
  } else if (const Json *dests = field(j, "destinations")) {
    size_t n = dests->is_array() ? dests->size() : 0;
    w.text(" " + std::to_string(n) +
           (n == 1 ? " destination" : " destinations"));
  }
}

void who(const Json &j, Writer &w) {
  const Json *pid = field(j, "pid");
  if (!pid)
    return;
  w.raw("\n    by pid ");
  w.styled(kYellow, plain(*pid));
  if (const Json *tid = field(j, "tid"); tid && *tid != *pid) {
    w.raw(" tid ");
    w.text(plain(*tid));
  }
  w.optional(j, "comm", " (", ")");
  w.optional(j, "username", " user ");
  w.optional(j, "uid", " uid ");
}

void destinations(const Json &j, Writer &w) {
  const Json *dests = field(j, "destinations");
  if (!dests || !dests->is_array())
    return;
  for (const Json &d : *dests) {
    if (!d.is_object())
      continue;
    w.raw("\n    -> ");
    if (const Json *a = field(d, "daddr"))
      w.endpoint(*a, field(d, "port"));
    for (const auto &[key, value] : d.items()) {
      if (key != "daddr" && key != "port")
        w.pair(" ", key, value);
    }
  }
}

void container(const Json &j, Writer &w) {
  const Json *name = field(j, "container_name");
  if (!name)
    return;
  w.raw("\n    container ");
  w.styled(kBold, plain(*name));
  for (const char *key :
       {"container_runtime", "container_image", "container_id"}) {
    if (const Json *v = field(j, key)) {
      w.raw(" ");
      std::string s = plain(*v);
      // The id's first 12 characters, as docker ps shows it.
      w.text(std::strcmp(key, "container_id") == 0 ? s.substr(0, 12) : s);
    }
  }
  if (const Json *labels = field(j, "container_labels");
      labels && labels->is_object() && !labels->empty()) {
    w.raw(" labels");
    for (const auto &[key, value] : labels->items())
      w.pair(" ", key, value);
  }
}

void other_fields(const Json &j, Writer &w) {
  bool first = true;
  for (const auto &[key, value] : j.items()) {
    if (shown(key))
      continue;
    w.pair(first ? "\n    " : " ", key, value);
    first = false;
  }
  if (const Json *error = field(j, "error");
      error && !(error->is_string() && error->get<std::string>().empty())) {
    w.raw("\n    error: ");
    w.styled(kRed, plain(*error));
  }
}

// pid 1 first, the event's own process last and in bold.
void tree(const Json &j, Writer &w) {
  const Json *nodes = field(j, "proctree");
  if (!nodes || !nodes->is_array())
    return;
  const size_t n = nodes->size();
  for (size_t i = 0; i < n; ++i) {
    const Json &node = (*nodes)[n - 1 - i];
    w.raw("\n    ");
    w.raw(std::string(2 * std::min(i, kMaxIndent), ' '));
    if (i > 0)
      w.raw("\u2514\u2500 ");
    if (!node.is_object()) {
      w.text(plain(node));
      continue;
    }
    const Json *pid = field(node, "pid");
    w.styled(kYellow, pid ? plain(*pid) : "?");
    w.optional(node, "username", " ");
    w.optional(node, "loginname", " (login ", ")");
    for (const auto &[key, value] : node.items()) {
      if (key == "pid" || key == "username" || key == "loginname" ||
          key == "cmdline")
        continue;
      w.pair(" ", key, value);
    }
    if (const Json *cmdline = field(node, "cmdline")) {
      w.raw("  ");
      const std::string shown = shorten(plain(*cmdline), kMaxViewCmdline);
      if (i + 1 == n)
        w.styled(kBold, shown);
      else
        w.text(shown);
    }
  }
}

}  // namespace

void TextView::render(std::string_view json_line, std::string *out) const {
  Json j = Json::parse(json_line, nullptr, false);
  Writer w(colour_, out);
  if (!j.is_object()) {
    w.text(json_line);
    out->append("\n\n");
    return;
  }
  headline(j, w);
  who(j, w);
  destinations(j, w);
  container(j, w);
  other_fields(j, w);
  tree(j, w);
  out->append("\n\n");
}

void TextView::render_lines(std::string_view lines, std::string *out) const {
  while (!lines.empty()) {
    size_t end = lines.find('\n');
    if (end == std::string_view::npos)
      end = lines.size();
    render(lines.substr(0, end), out);
    lines.remove_prefix(std::min(end + 1, lines.size()));
  }
}

bool want_colour(int fd) {
  const char *no_colour = std::getenv("NO_COLOR");  // no-color.org
  if (!::isatty(fd) || (no_colour && *no_colour))
    return false;
  const char *term = std::getenv("TERM");
  return !(term && std::strcmp(term, "dumb") == 0);
}

}  // namespace pidtree
