#include "probes/udp_session/session_book.h"

#include <algorithm>

namespace pidtree {

namespace {

// Seconds with microseconds, as upstream's float ("2.000150").
void append_seconds(std::string *out, uint64_t ns) {
  append_json_number(out, ns / 1'000'000'000);
  char frac[8];
  uint64_t us = ns % 1'000'000'000 / 1000;
  frac[0] = '.';
  for (int i = 6; i >= 1; --i, us /= 10)
    frac[i] = static_cast<char>('0' + us % 10);
  out->append(frac, 7);
}

}  // namespace

void append_json(std::string *out, const UdpSessionLine &line,
                 const EventLine &common, const std::string &line_end) {
  out->reserve(out->size() + event_line_size(common, line.comm) +
               96 * line.dests.size());
  append_event_head(out, "udp_session", line.pid, line.tid, line.comm, line.uid,
                    common);
  append_json_family(out, line.family);
  append_json_endpoint(out, "saddr", line.saddr, "sport", line.sport);
  out->append(",\"destinations\":[");
  for (size_t i = 0; i < line.dests.size(); ++i) {
    const auto &d = line.dests[i];
    if (i)
      out->push_back(',');
    out->push_back('{');
    append_json_endpoint(out, "daddr", d.addr, "port", d.port);
    out->append(",\"duration\":");
    append_seconds(out, d.duration_ns);
    out->append(",\"msg_count\":");
    append_json_number(out, d.msg_count);
    out->push_back('}');
  }
  out->append("],");
  append_json_key(out, "other_destinations_msg_count");
  append_json_number(out, line.other_msgs);
  out->append(line.interim ? ",\"interim\":true," : ",\"interim\":false,");
  append_json_key(out, "end_timestamp");
  append_json_string(out, line_end);
  if (line.error.empty()) {
    append_event_tail(out, common);
    return;
  }
  // The session's own error comes first, then the tree's.
  Ancestry with_error;
  with_error.tree = std::vector<NodeRef>(common.ancestry.tree);
  with_error.error = common.ancestry.error.empty()
                         ? line.error
                         : line.error + "; " + common.ancestry.error;
  append_event_tail(out, EventLine{with_error, common.username,
                                   common.timestamp, common.enrichment});
}

SessionBook::SessionBook(uint64_t max_duration_ns, uint64_t scan_ns,
                         size_t max_open)
    : interim_due_ns_(max_duration_ns > scan_ns ? max_duration_ns - scan_ns
                                                : 0),
      max_open_(max_open ? max_open : 1) {}

void SessionBook::start(const UdpSessionEvent &ev, Ancestry tree,
                        std::string username) {
  open_.erase(ev.key);
  Open &o = open_[ev.key];
  o.tree = std::move(tree);
  o.username = std::move(username);
  o.last_line_ns = ev.ts_boot_ns;
  o.seq = next_seq_++;
  order_.emplace_back(ev.key, o.seq);
  while (open_.size() > max_open_ && !order_.empty()) {
    auto [key, seq] = order_.front();
    order_.pop_front();
    auto it = open_.find(key);
    if (it != open_.end() && it->second.seq == seq) {
      open_.erase(it);
      ++evicted_;
    }
  }
  // Keys of sessions that ended linger at the front: drop them.
  while (!order_.empty()) {
    auto it = open_.find(order_.front().first);
    if (it != open_.end() && it->second.seq == order_.front().second)
      break;
    order_.pop_front();
  }
}

SessionBook::Open &SessionBook::open_for(uint64_t key, const Made *fallback) {
  auto it = open_.find(key);
  if (it != open_.end())
    return it->second;
  Open &o = open_[key];
  if (fallback) {
    o.tree = Ancestry(fallback->tree);
    o.username = fallback->username;
  }
  o.seq = next_seq_++;
  order_.emplace_back(key, o.seq);
  return o;
}

SessionBook::Made SessionBook::line(Open &open, const UdpSessionRecord &r,
                                    uint64_t end_ns, bool interim,
                                    const std::string &error, bool last) {
  Made made;
  UdpSessionLine &l = made.line;
  l.first_ns = r.first_ns;
  l.end_ns = end_ns;
  l.pid = r.pid;
  l.tid = r.tid;
  l.uid = r.uid;
  l.cgroup_id = r.cgroup_id;
  l.comm = r.comm;
  l.family = r.family;
  l.saddr = r.saddr;
  l.sport = r.sport;
  l.interim = interim;
  l.error = error;
  for (const UdpDest &d : r.dests) {
    if (d.slot >= open.reported.size())
      continue;  // not from the kernel's slots
    uint64_t &reported = open.reported[d.slot];
    uint64_t delta = d.msg_count > reported ? d.msg_count - reported : 0;
    reported = std::max(reported, d.msg_count);
    if (delta == 0)
      continue;
    // A destination claimed twice (two CPUs at once) is one entry.
    auto same = std::find_if(l.dests.begin(), l.dests.end(),
                             [&](const UdpSessionLine::Dest &x) {
                               return x.port == d.port && x.addr == d.addr;
                             });
    uint64_t duration = end_ns > d.first_ns ? end_ns - d.first_ns : 0;
    if (same != l.dests.end()) {
      same->msg_count += delta;
      same->duration_ns = std::max(same->duration_ns, duration);
    } else {
      l.dests.push_back({d.addr, d.port, delta, duration});
    }
  }
  l.other_msgs = r.other_msgs > open.reported_other
                     ? r.other_msgs - open.reported_other
                     : 0;
  open.reported_other = std::max(open.reported_other, r.other_msgs);
  open.last_line_ns = end_ns;
  // The session's last line takes its tree; the others share it.
  if (last) {
    made.tree = std::move(open.tree);
    made.username = std::move(open.username);
  } else {
    made.tree = Ancestry(open.tree);
    made.username = open.username;
  }
  return made;
}

SessionBook::Made SessionBook::end(const UdpSessionEvent &ev,
                                   const Made *fallback) {
  Open &o = open_for(ev.key, fallback);
  Made made = line(o, ev.record, ev.ts_boot_ns, false, "", true);
  open_.erase(ev.key);
  return made;
}

std::optional<SessionBook::Made> SessionBook::scanned(
    const UdpSessionScanned &ev, const Made *fallback) {
  if (ev.why != UdpSessionScanned::Why::kDue) {
    // Its last line: ended by the time-out, or open still as the tracer
    // stops (an interim line: the session goes on unseen).
    const bool stopped = ev.why == UdpSessionScanned::Why::kStopped;
    Open &o = open_for(ev.key, fallback);
    Made made = line(
        o, ev.record, ev.ts_boot_ns, stopped,
        stopped ? "tracer_stopped" : "session_max_duration_exceeded", true);
    open_.erase(ev.key);
    return made;
  }
  auto it = open_.find(ev.key);
  uint64_t last =
      it != open_.end() ? it->second.last_line_ns : ev.record.first_ns;
  if (ev.ts_boot_ns < last + interim_due_ns_)
    return std::nullopt;
  // Idle long enough to expire by the next scan: its last line comes then,
  // not an interim one now and an empty one a scan later.
  if (ev.ts_boot_ns >= ev.record.last_ns &&
      ev.ts_boot_ns - ev.record.last_ns >= interim_due_ns_)
    return std::nullopt;
  Open &o = open_for(ev.key, fallback);
  if (it == open_.end())
    o.last_line_ns = last;
  Made made = line(o, ev.record, ev.ts_boot_ns, true, "", false);
  if (made.line.dests.empty() && made.line.other_msgs == 0)
    return std::nullopt;  // nothing new since the last line
  return made;
}

}  // namespace pidtree
