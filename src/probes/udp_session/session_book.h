// udp_session's bookkeeping in user space: the tree of each open session,
// kept from its start, and what its lines have reported so far. The
// kernel's counts only grow; every line reports what came since the
// session's previous line, so the counts of all its lines add up to what
// was sent. Times are the events' (boot clock): no clock of its own.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "output/json.h"
#include "probes/udp_session/udp_event.h"
#include "process/ancestry.h"

namespace pidtree {

// One line of a session: at its end (release or idle time-out), or an
// interim one while it keeps sending.
struct UdpSessionLine {
  struct Dest {
    IpAddress addr;
    uint16_t port = 0;
    uint64_t msg_count = 0;    // in this line's period
    uint64_t duration_ns = 0;  // from the first message to it until end_ns
  };
  uint64_t first_ns = 0;  // the session's first send
  uint64_t end_ns = 0;    // this line's moment
  uint32_t pid = 0;       // the first sender
  uint32_t tid = 0;
  uint32_t uid = 0;
  uint64_t cgroup_id = 0;  // the first sender's
  std::string comm;
  Family family = Family::kIpv4;
  IpAddress saddr;
  uint16_t sport = 0;
  std::vector<Dest> dests;  // those with messages in this period
  uint64_t other_msgs = 0;  // to destinations beyond the bound, this period
  bool interim = false;
  std::string error;  // "", "session_max_duration_exceeded" or
                      // "tracer_stopped"
};

// {"timestamp" (first send), "probe": "udp_session", "pid", "tid", "comm",
//  "uid", "username", "family", "saddr", "sport", "destinations": [{"daddr",
//  "port", "duration", "msg_count"}], "other_destinations_msg_count",
//  "interim", "end_timestamp", "proctree", "error"}. `end_timestamp` is
// given in `line_end` (text), `common.timestamp` is the first send's.
void append_json(std::string *out, const UdpSessionLine &line,
                 const EventLine &common, const std::string &line_end);

class SessionBook {
 public:
  // A session sending for `max_duration_ns` since its last line gets an
  // interim one; a scan every `scan_ns` finds it, so the due time is
  // max_duration_ns - scan_ns (a line at least once per max duration),
  // unless the session has been idle that long: it expires at the next
  // scan, and that line is the one.
  // At most `max_open` sessions keep their tree; beyond, the oldest go.
  SessionBook(uint64_t max_duration_ns, uint64_t scan_ns, size_t max_open);

  // A line, and the tree and user name it goes with.
  struct Made {
    UdpSessionLine line;
    Ancestry tree;
    std::string username;
  };

  // The session's first send: its tree as it was then.
  void start(const UdpSessionEvent &ev, Ancestry tree, std::string username);
  // Whether the session's start was seen (its tree is kept).
  bool known(uint64_t key) const { return open_.count(key) != 0; }
  // The socket's release: the last line. A session whose start was not
  // seen takes `fallback` (its tree read now, with a reason in `error`).
  Made end(const UdpSessionEvent &ev, const Made *fallback = nullptr);
  // What a scan found: an interim line when due, the last one when the
  // session expired or the tracer stops; nothing else.
  std::optional<Made> scanned(const UdpSessionScanned &ev,
                              const Made *fallback = nullptr);

  size_t open() const { return open_.size(); }
  uint64_t evicted() const { return evicted_; }

 private:
  struct Open {
    Ancestry tree;
    std::string username;
    uint64_t last_line_ns = 0;
    std::array<uint64_t, PIDTREE_UDP_MAX_DESTS> reported{};  // by dest slot
    uint64_t reported_other = 0;
    uint64_t seq = 0;
  };
  // `last`: the session ends with this line (its tree moves out).
  Made line(Open &open, const UdpSessionRecord &record, uint64_t end_ns,
            bool interim, const std::string &error, bool last);
  Open &open_for(uint64_t key, const Made *fallback);

  uint64_t interim_due_ns_;
  size_t max_open_;
  std::unordered_map<uint64_t, Open> open_;
  std::deque<std::pair<uint64_t, uint64_t>> order_;  // (key, seq), oldest first
  uint64_t next_seq_ = 1;
  uint64_t evicted_ = 0;
};

}  // namespace pidtree
