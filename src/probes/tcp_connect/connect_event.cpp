#include "probes/tcp_connect/connect_event.h"

#include <cstring>

#include "event.h"

namespace pidtree {

std::optional<ConnectEvent> decode_connect_event(const void *data,
                                                 size_t size) {
  // Perf records are padded to 8 bytes, so only a short record is wrong.
  if (data == nullptr || size < sizeof(pidtree_connect_event))
    return std::nullopt;
  pidtree_connect_event raw;
  std::memcpy(&raw, data, sizeof(raw));
  if (raw.kind != PIDTREE_EVENT_TCP_CONNECT)
    return std::nullopt;
  ConnectEvent ev;
  if (raw.family == 2)
    ev.family = Family::kIpv4;
  else if (raw.family == 10)
    ev.family = Family::kIpv6;
  else
    return std::nullopt;
  ev.ts_boot_ns = raw.ts_boot_ns;
  ev.pid = raw.pid;
  ev.tid = raw.tid;
  ev.uid = raw.uid;
  ev.sport = raw.sport;
  ev.dport = raw.dport;
  ev.saddr.family = ev.daddr.family = ev.family;
  size_t len = ev.family == Family::kIpv4 ? 4 : 16;
  std::memcpy(ev.saddr.bytes.data(), raw.saddr, len);
  std::memcpy(ev.daddr.bytes.data(), raw.daddr, len);
  ev.comm.assign(raw.comm, strnlen(raw.comm, sizeof(raw.comm)));
  return ev;
}

void append_json(std::string *out, const ConnectEvent &event,
                 const EventLine &line) {
  out->reserve(out->size() + event_line_size(line, event.comm));
  append_event_head(out, "tcp_connect", event.pid, event.tid, event.comm,
                    event.uid, line);
  out->append(event.family == Family::kIpv4 ? ",\"family\":\"ipv4\","
                                            : ",\"family\":\"ipv6\",");
  append_json_key(out, "saddr");
  append_json_string(out, format_ip(event.saddr));
  out->push_back(',');
  append_json_key(out, "sport");
  append_json_number(out, event.sport);
  out->push_back(',');
  append_json_key(out, "daddr");
  append_json_string(out, format_ip(event.daddr));
  out->push_back(',');
  append_json_key(out, "port");
  append_json_number(out, event.dport);
  append_event_tail(out, line);
}

}  // namespace pidtree
