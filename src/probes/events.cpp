#include "probes/events.h"

#include <cstring>

#include "event.h"

namespace pidtree {

namespace {

template <typename T, std::optional<T> (*Decode)(const void *, size_t)>
std::optional<Event> as_event(const void *data, size_t size) {
  if (auto ev = Decode(data, size))
    return Event{std::move(*ev)};
  return std::nullopt;
}

struct Decoder {
  uint32_t kind;
  std::optional<Event> (*decode)(const void *, size_t);
};

// The kinds of bpf/event.h and who decodes each.
constexpr Decoder kDecoders[] = {
    {PIDTREE_EVENT_TCP_CONNECT, as_event<ConnectEvent, decode_connect_event>},
    {PIDTREE_EVENT_NET_LISTEN, as_event<ListenEvent, decode_listen_event>},
    {PIDTREE_EVENT_UDP_SESSION,
     as_event<UdpSessionEvent, decode_udp_session_event>},
    {PIDTREE_EVENT_PROC_FORK, as_event<ProcEvent, decode_proc_event>},
    {PIDTREE_EVENT_PROC_EXEC, as_event<ProcEvent, decode_proc_event>},
    {PIDTREE_EVENT_PROC_EXIT, as_event<ProcEvent, decode_proc_event>},
    {PIDTREE_EVENT_PROC_UID, as_event<ProcEvent, decode_proc_event>},
    {PIDTREE_EVENT_CGROUP, as_event<CgroupEvent, decode_cgroup_event>},
    {PIDTREE_EVENT_FLOOD, as_event<FloodBegins, decode_flood_event>},
};

}  // namespace

std::optional<Event> decode_event(const void *data, size_t size) {
  if (data == nullptr || size < sizeof(pidtree_event_header))
    return std::nullopt;
  pidtree_event_header head;
  std::memcpy(&head, data, sizeof(head));
  for (const Decoder &d : kDecoders)
    if (d.kind == head.kind)
      return d.decode(data, size);
  return std::nullopt;
}

uint64_t event_time(const Event &event) {
  return std::visit([](const auto &e) { return e.ts_boot_ns; }, event);
}

}  // namespace pidtree
