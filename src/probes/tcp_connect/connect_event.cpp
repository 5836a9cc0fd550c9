#include "probes/tcp_connect/connect_event.h"

#include "event.h"
#include "probes/record.h"

namespace pidtree {

std::optional<ConnectEvent> decode_connect_event(const void *data,
                                                 size_t size) {
  auto raw =
      read_record<pidtree_connect_event>(data, size, PIDTREE_EVENT_TCP_CONNECT);
  std::optional<Family> family =
      raw ? record_family(raw->family) : std::nullopt;
  if (!family)
    return std::nullopt;
  ConnectEvent ev;
  ev.family = *family;
  ev.ts_boot_ns = raw->ts_boot_ns;
  ev.pid = raw->pid;
  ev.tid = raw->tid;
  ev.uid = raw->uid;
  ev.sport = raw->sport;
  ev.dport = raw->dport;
  ev.saddr = record_address(ev.family, raw->saddr);
  ev.daddr = record_address(ev.family, raw->daddr);
  ev.comm = record_comm(raw->comm);
  ev.loginuid = raw->loginuid;
  ev.cgroup_id = raw->cgroup_id;
  return ev;
}

void append_json(std::string *out, const ConnectEvent &event,
                 const EventLine &line) {
  out->reserve(out->size() + event_line_size(line, event.comm));
  append_event_head(out, "tcp_connect", event.pid, event.tid, event.comm,
                    event.uid, line);
  append_json_family(out, event.family);
  append_json_endpoint(out, "saddr", event.saddr, "sport", event.sport);
  out->push_back(',');
  append_json_endpoint(out, "daddr", event.daddr, "port", event.dport);
  append_event_tail(out, line);
}

}  // namespace pidtree
