#include "probes/net_listen/listen_event.h"

#include <cstring>

#include "event.h"

namespace pidtree {

std::optional<ListenEvent> decode_listen_event(const void *data, size_t size) {
  if (data == nullptr || size < sizeof(pidtree_listen_event))
    return std::nullopt;
  pidtree_listen_event raw;
  std::memcpy(&raw, data, sizeof(raw));
  if (raw.kind != PIDTREE_EVENT_NET_LISTEN)
    return std::nullopt;
  ListenEvent ev;
  if (raw.family == 2)
    ev.family = Family::kIpv4;
  else if (raw.family == 10)
    ev.family = Family::kIpv6;
  else
    return std::nullopt;
  if (raw.protocol == 6)
    ev.protocol = Protocol::kTcp;
  else if (raw.protocol == 17)
    ev.protocol = Protocol::kUdp;
  else
    return std::nullopt;
  ev.ts_boot_ns = raw.ts_boot_ns;
  ev.pid = raw.pid;
  ev.tid = raw.tid;
  ev.uid = raw.uid;
  ev.netns = raw.netns;
  ev.port = raw.port;
  ev.laddr.family = ev.family;
  std::memcpy(ev.laddr.bytes.data(), raw.laddr, ev.laddr.size());
  ev.comm.assign(raw.comm, strnlen(raw.comm, sizeof(raw.comm)));
  return ev;
}

void append_json(std::string *out, const ListenEvent &event,
                 const EventLine &line) {
  out->reserve(out->size() + event_line_size(line, event.comm));
  append_event_head(
      out, "net_listen", event.pid,
      event.snapshot ? std::nullopt : std::optional<uint32_t>(event.tid),
      event.comm, event.uid, line);
  out->append(event.family == Family::kIpv4 ? ",\"family\":\"ipv4\","
                                            : ",\"family\":\"ipv6\",");
  append_json_key(out, "laddr");
  append_json_string(out, format_ip(event.laddr));
  out->push_back(',');
  append_json_key(out, "port");
  append_json_number(out, event.port);
  out->append(event.protocol == Protocol::kTcp ? ",\"protocol\":\"tcp\","
                                               : ",\"protocol\":\"udp\",");
  append_json_key(out, "netns");
  append_json_number(out, event.netns);
  out->append(event.snapshot ? ",\"snapshot\":true" : ",\"snapshot\":false");
  append_event_tail(out, line);
}

}  // namespace pidtree
