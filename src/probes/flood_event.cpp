#include "probes/flood_event.h"

#include "output/json.h"
#include "probes/record.h"

namespace pidtree {

std::optional<FloodBegins> decode_flood_event(const void *data, size_t size) {
  auto raw = read_record<pidtree_flood_event>(data, size, PIDTREE_EVENT_FLOOD);
  if (!raw)
    return std::nullopt;
  return FloodBegins{raw->ts_boot_ns, raw->pid, raw->uid, raw->loginuid};
}

std::optional<FloodSummary> parse_flood_entry(
    const pidtree_flood_key &key, const pidtree_flood_entry &entry) {
  std::optional<Family> family = record_family(key.family);
  if (!family || key.slot >= PIDTREE_FILTER_SLOTS || entry.count == 0)
    return std::nullopt;
  FloodSummary s;
  s.slot = key.slot;
  s.protocol = key.protocol;
  s.addr = record_address(*family, key.addr);
  s.port = key.port;
  s.pid = key.pid;
  s.tid = entry.tid;
  s.uid = entry.uid;
  s.loginuid = entry.loginuid;
  s.netns = entry.netns;
  s.cgroup_id = entry.cgroup_id;
  s.comm = record_comm(entry.comm);
  s.count = entry.count;
  s.first_ns = entry.first_ns;
  s.last_ns = entry.last_ns < entry.first_ns ? entry.first_ns : entry.last_ns;
  return s;
}

void append_flood_address(std::string *out, const char *key,
                          const FloodSummary &s) {
  append_json_family(out, s.addr.family);
  append_json_endpoint(out, key, s.addr, "port", s.port);
}

}  // namespace pidtree
