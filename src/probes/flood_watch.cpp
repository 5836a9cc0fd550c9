#include "probes/flood_watch.h"

#include <chrono>

#include "common/clock.h"
#include "output/json.h"
#include "output/output.h"

namespace pidtree {

namespace {

constexpr const char *kSummaries = "flood_summaries";

}  // namespace

std::string FloodWatch::use_maps(MapAccess &maps) {
  maps_ = &maps;
  control_.budget = budget_;
  control_.window_ns = kWindowNs;
  control_.gen = 0;
  int zero = 0;
  if (!maps.update("flood_control", &zero, &control_))
    return "cannot write the BPF map flood_control";
  return "";
}

void FloodWatch::scan(MapAccess &maps, uint64_t now_ns, bool last) {
  std::vector<Event> found;
  const uint32_t current = control_.gen;
  pidtree_flood_key key{}, next{};
  pidtree_flood_entry entry{};
  // The next key is taken before an entry is deleted, so deleting does not
  // restart the walk.
  bool more = maps.next_key(kSummaries, nullptr, &next);
  while (more) {
    key = next;
    more = maps.next_key(kSummaries, &key, &next);
    if (key.gen == current && !last)
      continue;  // still counting
    // Nothing adds to a retired generation: a lookup and a delete are
    // exact (and work on kernels without lookup-and-delete for hashes).
    if (!maps.lookup(kSummaries, &key, &entry))
      continue;
    maps.erase(kSummaries, &key);
    if (auto s = parse_flood_entry(key, entry)) {
      s->ts_boot_ns = now_ns;
      found.emplace_back(std::move(*s));
    }
  }
  if (auto u = untracked_.take(maps, now_ns))
    found.emplace_back(*u);
  if (!last) {
    control_.gen = current + 1;
    int zero = 0;
    maps.update("flood_control", &zero, &control_);
  }
  worker_.post(std::move(found));
}

void FloodWatch::start() {
  if (!maps_ || budget_ == 0)
    return;
  worker_.start(std::chrono::nanoseconds(kWindowNs), false,
                [this] { scan(*maps_, boottime_now_ns()); });
}

void FloodWatch::stop() {
  if (worker_.stop())
    scan(*maps_, boottime_now_ns(), true);
}

const Probe *FloodWatch::probe_of(uint8_t slot) const {
  for (const Probe *p : probes_)
    if (p->slot() == slot)
      return p;
  return nullptr;
}

void FloodWatch::pin(const FloodBegins &begins, LineOutput &out) {
  // Trees too old to be needed go first, then the oldest beyond the bound.
  while (!pin_order_.empty() &&
         (pin_order_.front().second + kPinNs < begins.ts_boot_ns ||
          pin_order_.size() >= kMaxPins)) {
    auto [pid, ts] = pin_order_.front();
    pin_order_.pop_front();
    auto it = pins_.find(pid);
    if (it != pins_.end() && it->second.ts_boot_ns == ts)
      pins_.erase(it);
  }
  Pinned &p = pins_[begins.pid];
  p.tree = out.resolve(EventTask{begins.pid, begins.uid, begins.loginuid});
  p.username = out.username(begins.uid);
  p.ts_boot_ns = begins.ts_boot_ns;
  pin_order_.emplace_back(begins.pid, begins.ts_boot_ns);
}

void FloodWatch::write(const FloodSummary &s, LineOutput &out) {
  const Probe *probe = probe_of(s.slot);
  const Enrichment *enrichment =
      probe ? out.enrich(EventOrigin{s.slot, s.cgroup_id, nullptr, s.pid})
            : nullptr;
  if (!enrichment)
    return;  // container_labels (or no such probe: not written)
  Pinned now;
  auto it = pins_.find(s.pid);
  const Pinned *pinned = it != pins_.end() ? &it->second : nullptr;
  if (!pinned) {
    // Its marker was lost (a full perf buffer) or came before the start.
    now.tree = out.resolve(EventTask{s.pid, s.uid, s.loginuid});
    const char *why =
        "the process's tree was read when its summary was written";
    now.tree.error =
        now.tree.error.empty() ? why : why + ("; " + now.tree.error);
    now.username = out.username(s.uid);
    pinned = &now;
  }
  std::string first = out.timestamp(s.first_ns);
  const EventLine line{pinned->tree, pinned->username, first, enrichment};
  std::string &o = out.lines();
  append_event_head(&o, probe->name(), s.pid, s.tid, s.comm, s.uid, line);
  o.append(",\"type\":\"flood_summary\",");
  append_json_key(&o, "count");
  append_json_number(&o, s.count);
  o.push_back(',');
  append_json_key(&o, "end_timestamp");
  append_json_string(&o, out.timestamp(s.last_ns));
  probe->append_flood_destination(&o, s);
  append_event_tail(&o, line);
}

bool FloodWatch::take(const Event &event, LineOutput &out) {
  if (const auto *b = std::get_if<FloodBegins>(&event)) {
    pin(*b, out);
    return true;
  }
  if (const auto *s = std::get_if<FloodSummary>(&event)) {
    write(*s, out);
    return true;
  }
  if (const auto *u = std::get_if<FloodUntracked>(&event)) {
    out.lines() += JsonFormatter().counter(
        "flood_untracked", u->count, u->total, out.timestamp(u->ts_boot_ns));
    return true;
  }
  return false;
}

}  // namespace pidtree
