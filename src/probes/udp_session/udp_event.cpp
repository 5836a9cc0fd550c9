#include "probes/udp_session/udp_event.h"

#include <algorithm>
#include <cstring>

#include "probes/record.h"

namespace pidtree {

std::optional<UdpSessionRecord> parse_udp_session(
    const pidtree_udp_session &raw) {
  std::optional<Family> family = record_family(raw.family);
  if (!family)
    return std::nullopt;
  UdpSessionRecord r;
  r.first_ns = raw.first_ns;
  r.last_ns = raw.last_ns;
  r.pid = raw.pid;
  r.tid = raw.tid;
  r.uid = raw.uid;
  r.loginuid = raw.loginuid;
  r.cgroup_id = raw.cgroup_id;
  r.comm = record_comm(raw.comm);
  r.family = *family;
  r.saddr = record_address(*family, raw.saddr);
  r.sport = raw.sport;
  r.other_msgs = raw.other_msgs;
  uint64_t n =
      raw.ndests < PIDTREE_UDP_MAX_DESTS ? raw.ndests : PIDTREE_UDP_MAX_DESTS;
  for (uint32_t i = 0; i < n; ++i) {
    const pidtree_udp_dest &d = raw.dests[i];
    std::optional<Family> f = record_family(d.family);
    if (!f)
      continue;  // claimed, not written yet
    UdpDest dest;
    dest.slot = i;
    dest.addr = record_address(*f, d.addr);
    dest.port = d.port;
    dest.msg_count = d.msg_count;
    dest.first_ns = d.first_ns;
    dest.last_ns = d.last_ns;
    r.dests.push_back(dest);
  }
  return r;
}

std::optional<UdpSessionEvent> decode_udp_session_event(const void *data,
                                                        size_t size) {
  constexpr size_t kHead = offsetof(pidtree_udp_event, session);
  if (data == nullptr || size < kHead)
    return std::nullopt;
  pidtree_udp_event raw;
  std::memcpy(&raw, data, kHead);
  if (raw.kind != PIDTREE_EVENT_UDP_SESSION ||
      (raw.what != PIDTREE_UDP_START && raw.what != PIDTREE_UDP_END))
    return std::nullopt;
  UdpSessionEvent ev;
  ev.ts_boot_ns = raw.ts_boot_ns;
  ev.end = raw.what == PIDTREE_UDP_END;
  ev.key = raw.key;
  ev.pid = raw.pid;
  ev.tid = raw.tid;
  ev.uid = raw.uid;
  ev.loginuid = raw.loginuid;
  ev.cgroup_id = raw.cgroup_id;
  ev.comm = record_comm(raw.comm);
  if (!ev.end)
    return ev;
  // The record up to its last claimed destination: the event is as long
  // as its count of destinations says, no shorter. The perf buffer pads a
  // sample (with its 4-byte size) to 8 bytes, so up to 7 bytes more come:
  // a full record arrives as 932 bytes.
  constexpr size_t kBody = offsetof(pidtree_udp_session, dests);
  if (size < kHead + kBody || size > sizeof(pidtree_udp_event) + 7)
    return std::nullopt;
  // Only what came is copied, never the padding past a full record;
  // parsing reads no further (the claimed destinations, checked next).
  const size_t body = std::min(size - kHead, sizeof(raw.session));
  std::memcpy(&raw.session, static_cast<const char *>(data) + kHead, body);
  uint64_t claimed =
      std::min<uint64_t>(raw.session.ndests, PIDTREE_UDP_MAX_DESTS);
  if (body < kBody + claimed * sizeof(pidtree_udp_dest))
    return std::nullopt;
  auto record = parse_udp_session(raw.session);
  if (!record)
    return std::nullopt;
  ev.record = std::move(*record);
  return ev;
}

}  // namespace pidtree
