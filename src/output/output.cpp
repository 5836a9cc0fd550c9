#include "output/output.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/net.h"

namespace pidtree {

namespace {

using Json = nlohmann::ordered_json;

std::string dump_line(const Json &j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace

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

namespace {

void append_field(std::string *out, const char *name) {
  out->push_back('"');
  out->append(name);
  out->append("\":");
}

void append_number(std::string *out, uint64_t n) {
  char buf[24];
  char *e = buf + sizeof(buf), *b = e;
  do {
    *--b = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n);
  out->append(b, static_cast<size_t>(e - b));
}

}  // namespace

// Written by hand rather than through nlohmann::json: the same output at a
// tenth of the cost (see bench/), on the per-event path.
std::string JsonFormatter::connect_event(const ConnectEvent &event,
                                         const Ancestry &ancestry,
                                         const std::string &username,
                                         const std::string &timestamp) const {
  std::string out;
  append_connect_event(&out, event, ancestry, username, timestamp);
  return out;
}

void JsonFormatter::append_connect_event(std::string *out_ptr,
                                         const ConnectEvent &event,
                                         const Ancestry &ancestry,
                                         const std::string &username,
                                         const std::string &timestamp) const {
  std::string &out = *out_ptr;
  size_t size =
      320 + event.comm.size() + username.size() + ancestry.error.size();
  for (const auto &node : ancestry.tree)
    size += 48 + node.cmdline.size() + node.username.size();
  out.reserve(out.size() + size);
  out.push_back('{');
  append_field(&out, "timestamp");
  append_json_string(&out, timestamp);
  out.append(",\"probe\":\"tcp_connect\",");
  append_field(&out, "pid");
  append_number(&out, event.pid);
  out.push_back(',');
  append_field(&out, "tid");
  append_number(&out, event.tid);
  out.push_back(',');
  append_field(&out, "comm");
  append_json_string(&out, event.comm);
  out.push_back(',');
  append_field(&out, "uid");
  append_number(&out, event.uid);
  out.push_back(',');
  append_field(&out, "username");
  append_json_string(&out, username);
  out.append(event.family == Family::kIpv4 ? ",\"family\":\"ipv4\","
                                           : ",\"family\":\"ipv6\",");
  append_field(&out, "saddr");
  append_json_string(&out, format_ip(event.saddr));
  out.push_back(',');
  append_field(&out, "sport");
  append_number(&out, event.sport);
  out.push_back(',');
  append_field(&out, "daddr");
  append_json_string(&out, format_ip(event.daddr));
  out.push_back(',');
  append_field(&out, "port");
  append_number(&out, event.dport);
  out.append(",\"proctree\":[");
  bool first = true;
  for (const auto &ref : ancestry.tree) {
    if (!first)
      out.push_back(',');
    first = false;
    const ProcNode &node = ref.node();
    if (node.json.empty()) {
      node.json.append("{\"pid\":");
      append_number(&node.json, node.pid);
      node.json.append(",\"cmdline\":");
      append_json_string(&node.json, node.cmdline);
      node.json.append(",\"username\":");
      append_json_string(&node.json, node.username);
      node.json.push_back('}');
    }
    out.append(node.json);
  }
  out.append("],");
  append_field(&out, "error");
  append_json_string(&out, ancestry.error);
  out.append("}\n");
}

std::string JsonFormatter::lost_events(uint64_t count, uint64_t total,
                                       const std::string &timestamp) const {
  return dump_line(Json{{"type", "lost_events"},
                        {"timestamp", timestamp},
                        {"count", count},
                        {"total", total}});
}

std::string JsonFormatter::config_reload(bool applied,
                                         const std::string &trigger,
                                         const std::string &file,
                                         const std::string &reason,
                                         size_t rules,
                                         const std::string &timestamp) const {
  Json j{{"type", "config_reload"},
         {"timestamp", timestamp},
         {"status", applied ? "applied" : "refused"},
         {"trigger", trigger},
         {"file", file}};
  if (applied)
    j["rules"] = rules;
  else
    j["reason"] = reason;
  return dump_line(j);
}

void OutputSink::add_line(const std::string &line) { buffer_ += line; }

bool OutputSink::flush() {
  if (failed_) {
    buffer_.clear();
    return false;
  }
  size_t done = 0;
  while (done < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        // A non-blocking output (inherited): wait until it takes more.
        pollfd p{fd_, POLLOUT, 0};
        if (::poll(&p, 1, -1) >= 0 && !(p.revents & (POLLERR | POLLNVAL)))
          continue;
      }
      failed_ = true;
      errno_ = errno;
      break;
    }
    done += static_cast<size_t>(n);
  }
  buffer_.clear();
  // After a huge line (command lines can be long), give the memory back.
  if (buffer_.capacity() > kKeepCapacity)
    std::string().swap(buffer_);
  return !failed_;
}

bool OutputSink::reader_gone() const {
  pollfd p{fd_, 0, 0};
  // A pipe whose reader closed reports POLLERR; files never do.
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)) != 0;
}

}  // namespace pidtree
