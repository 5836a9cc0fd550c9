// The pieces of a JSON event line, written by hand rather than through
// nlohmann::json: the same output at a tenth of the cost, on the per-event
// path. Every string goes through append_json_string (control bytes as
// \uXXXX, invalid UTF-8 replaced by U+FFFD), so no process can put a
// newline into a line or forge a line of its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/net.h"
#include "process/ancestry.h"

namespace pidtree {

// Appends `text` as a JSON string: quotes, backslashes and control bytes
// escaped, UTF-8 kept, each byte of an invalid sequence replaced by U+FFFD.
void append_json_string(std::string *out, const std::string &text);
// "name": (the name is ours, plain ASCII). Inline, as the number below:
// called for every field of every event.
inline void append_json_key(std::string *out, const char *name) {
  out->push_back('"');
  out->append(name);
  out->append("\":");
}

inline void append_json_number(std::string *out, uint64_t n) {
  char buf[24];
  char *e = buf + sizeof(buf), *b = e;
  do {
    *--b = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n);
  out->append(b, static_cast<size_t>(e - b));
}

// ,"family":"ipv4", or ,"family":"ipv6",: before an event's addresses.
inline void append_json_family(std::string *out, Family family) {
  out->append(family == Family::kIpv4 ? ",\"family\":\"ipv4\","
                                      : ",\"family\":\"ipv6\",");
}

// "addr_key":"ADDRESS","port_key":PORT
void append_json_endpoint(std::string *out, const char *addr_key,
                          const IpAddress &addr, const char *port_key,
                          uint64_t port);

// How tree nodes show their audit login uid (loginuidmap): not at all, on
// every node below pid 1 that has one, or on the event's own node only.
enum class LoginFields : uint8_t { kNone, kAll, kFirst };

// What the enrich stage (src/enrich/) adds to a line: fields after the
// probe's own (container attribution, sourceipmap), and the login fields.
struct Enrichment {
  std::string fields;  // ,"name":value... rendered; "" for none
  LoginFields login = LoginFields::kNone;
};

// What every event line has besides the probe's own fields.
struct EventLine {
  const Ancestry &ancestry;
  const std::string &username;   // of the event's uid
  const std::string &timestamp;  // RFC 3339, of the event's kernel time
  const Enrichment *enrichment = nullptr;
};

// {"timestamp":...,"probe":...,"pid":...,"tid":...,"comm":...,"uid":...,
// "username":...  (no tid when the event has no thread, e.g. a snapshot)
void append_event_head(std::string *out, const char *probe, uint32_t pid,
                       std::optional<uint32_t> tid, const std::string &comm,
                       uint32_t uid, const EventLine &line);
// ,"proctree":[...],"error":"..."}\n
void append_event_tail(std::string *out, const EventLine &line);
// Room to reserve for the head and tail of a line.
size_t event_line_size(const EventLine &line, const std::string &comm);

// One event's whole line, through the probe's append_json() (for tests and
// anything off the hot path).
template <typename Event>
std::string event_line(const Event &event, const Ancestry &ancestry,
                       const std::string &username,
                       const std::string &timestamp) {
  std::string out;
  append_json(&out, event, EventLine{ancestry, username, timestamp});
  return out;
}

}  // namespace pidtree
