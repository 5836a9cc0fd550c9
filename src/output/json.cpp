#include "output/json.h"

#include "common/net.h"

namespace pidtree {

namespace {

// Bytes that go into a JSON string as they are.
struct PlainBytes {
  bool table[256] = {};
  constexpr PlainBytes() {
    for (int c = 0x20; c < 0x80; ++c)
      table[c] = c != '"' && c != '\\';
  }
};
constexpr PlainBytes kPlainBytes;

}  // namespace

void append_json_endpoint(std::string *out, const char *addr_key,
                          const IpAddress &addr, const char *port_key,
                          uint64_t port) {
  append_json_key(out, addr_key);
  append_json_string(out, format_ip(addr));
  out->push_back(',');
  append_json_key(out, port_key);
  append_json_number(out, port);
}

void append_json_string(std::string *out, const std::string &text) {
  static const char kHex[] = "0123456789abcdef";
  const bool *kPlain = kPlainBytes.table;
  out->push_back('"');
  const auto *p = reinterpret_cast<const unsigned char *>(text.data());
  const auto *end = p + text.size();
  while (p < end) {
    // Runs of plain printable ASCII go in one append.
    const auto *run = p;
    while (p + 8 <= end && kPlain[p[0]] && kPlain[p[1]] && kPlain[p[2]] &&
           kPlain[p[3]] && kPlain[p[4]] && kPlain[p[5]] && kPlain[p[6]] &&
           kPlain[p[7]])
      p += 8;
    while (p < end && kPlain[*p])
      ++p;
    out->append(reinterpret_cast<const char *>(run),
                static_cast<size_t>(p - run));
    if (p == end)
      break;
    unsigned char c = *p;
    if (c < 0x80) {
      out->push_back('\\');
      switch (c) {
        case '"':
        case '\\':
          out->push_back(static_cast<char>(c));
          break;
        case '\b':
          out->push_back('b');
          break;
        case '\f':
          out->push_back('f');
          break;
        case '\n':
          out->push_back('n');
          break;
        case '\r':
          out->push_back('r');
          break;
        case '\t':
          out->push_back('t');
          break;
        default:
          out->append("u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
      }
      ++p;
      continue;
    }
    // A UTF-8 sequence: kept if well formed (no overlong forms, no
    // surrogates, nothing above U+10FFFF), else one U+FFFD for the byte.
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    bool ok = len != 0 && c <= 0xf4 && static_cast<size_t>(end - p) >= len;
    for (size_t i = 1; ok && i < len; ++i)
      ok = (p[i] & 0xc0) == 0x80;
    if (ok && len == 3)
      ok = !(c == 0xe0 && p[1] < 0xa0) && !(c == 0xed && p[1] >= 0xa0);
    if (ok && len == 4)
      ok = !(c == 0xf0 && p[1] < 0x90) && !(c == 0xf4 && p[1] >= 0x90);
    if (ok) {
      out->append(reinterpret_cast<const char *>(p), len);
      p += len;
    } else {
      out->append("\xef\xbf\xbd");
      ++p;
    }
  }
  out->push_back('"');
}

size_t event_line_size(const EventLine &line, const std::string &comm) {
  size_t size =
      320 + comm.size() + line.username.size() + line.ancestry.error.size();
  for (const auto &node : line.ancestry.tree)
    size += 48 + node.cmdline.size() + node.username.size();
  if (line.enrichment)
    size += line.enrichment->fields.size() +
            (line.enrichment->login == LoginFields::kNone
                 ? 0
                 : 48 * line.ancestry.tree.size());
  return size;
}

void append_event_head(std::string *out_ptr, const char *probe, uint32_t pid,
                       std::optional<uint32_t> tid, const std::string &comm,
                       uint32_t uid, const EventLine &line) {
  std::string &out = *out_ptr;
  out.push_back('{');
  append_json_key(&out, "timestamp");
  append_json_string(&out, line.timestamp);
  out.append(",\"probe\":\"");
  out.append(probe);
  out.append("\",");
  append_json_key(&out, "pid");
  append_json_number(&out, pid);
  out.push_back(',');
  if (tid) {
    append_json_key(&out, "tid");
    append_json_number(&out, *tid);
    out.push_back(',');
  }
  append_json_key(&out, "comm");
  append_json_string(&out, comm);
  out.push_back(',');
  append_json_key(&out, "uid");
  append_json_number(&out, uid);
  out.push_back(',');
  append_json_key(&out, "username");
  append_json_string(&out, line.username);
}

namespace {

// Rendered once per node: the process table hands out the same node for
// every event of a process.
const std::string &node_json(const ProcNode &node) {
  if (node.json.empty()) {
    node.json.append("{\"pid\":");
    append_json_number(&node.json, node.pid);
    node.json.append(",\"cmdline\":");
    append_json_string(&node.json, node.cmdline);
    node.json.append(",\"username\":");
    append_json_string(&node.json, node.username);
    node.json.push_back('}');
  }
  return node.json;
}

// With loginuidmap's "loginuid" and "loginname", where the node has a
// login uid and is not pid 1 (as upstream).
const std::string &login_node_json(const ProcNode &node) {
  if (node.pid == 1 || node.loginuid == 0xffffffffu)
    return node_json(node);
  if (node.login_json.empty()) {
    const std::string &plain = node_json(node);
    node.login_json.assign(plain, 0, plain.size() - 1);
    node.login_json.append(",\"loginuid\":");
    append_json_number(&node.login_json, node.loginuid);
    node.login_json.append(",\"loginname\":");
    append_json_string(&node.login_json, node.loginname);
    node.login_json.push_back('}');
  }
  return node.login_json;
}

}  // namespace

void append_event_tail(std::string *out_ptr, const EventLine &line) {
  std::string &out = *out_ptr;
  const LoginFields login =
      line.enrichment ? line.enrichment->login : LoginFields::kNone;
  if (line.enrichment)
    out.append(line.enrichment->fields);
  out.append(",\"proctree\":[");
  bool first = true;
  for (const auto &ref : line.ancestry.tree) {
    if (!first)
      out.push_back(',');
    const ProcNode &node = ref.node();
    if (login == LoginFields::kAll || (login == LoginFields::kFirst && first))
      out.append(login_node_json(node));
    else
      out.append(node_json(node));
    first = false;
  }
  out.append("],");
  append_json_key(&out, "error");
  append_json_string(&out, line.ancestry.error);
  out.append("}\n");
}

}  // namespace pidtree
