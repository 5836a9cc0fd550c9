#include "probes/net_listen/listen_event.h"

#include "event.h"
#include "probes/record.h"

namespace pidtree {

std::optional<ListenEvent> decode_listen_event(const void *data, size_t size) {
  auto raw =
      read_record<pidtree_listen_event>(data, size, PIDTREE_EVENT_NET_LISTEN);
  std::optional<Family> family =
      raw ? record_family(raw->family) : std::nullopt;
  if (!family || (raw->protocol != 6 && raw->protocol != 17))
    return std::nullopt;
  ListenEvent ev;
  ev.family = *family;
  ev.protocol = raw->protocol == 6 ? Protocol::kTcp : Protocol::kUdp;
  ev.ts_boot_ns = raw->ts_boot_ns;
  ev.pid = raw->pid;
  ev.tid = raw->tid;
  ev.uid = raw->uid;
  ev.netns = raw->netns;
  ev.port = raw->port;
  ev.laddr = record_address(ev.family, raw->laddr);
  ev.comm = record_comm(raw->comm);
  ev.loginuid = raw->loginuid;
  ev.cgroup_id = raw->cgroup_id;
  return ev;
}

void append_json(std::string *out, const ListenEvent &event,
                 const EventLine &line) {
  out->reserve(out->size() + event_line_size(line, event.comm));
  append_event_head(
      out, "net_listen", event.pid,
      event.snapshot ? std::nullopt : std::optional<uint32_t>(event.tid),
      event.comm, event.uid, line);
  append_json_family(out, event.family);
  append_json_endpoint(out, "laddr", event.laddr, "port", event.port);
  out->append(event.protocol == Protocol::kTcp ? ",\"protocol\":\"tcp\","
                                               : ",\"protocol\":\"udp\",");
  append_json_key(out, "netns");
  append_json_number(out, event.netns);
  out->append(event.snapshot ? ",\"snapshot\":true" : ",\"snapshot\":false");
  append_event_tail(out, line);
}

}  // namespace pidtree
