// The raw perf records of every event type, as the kernel would send them,
// through the pipeline's user-space stages: decode, the process table
// (fork, exec, exit, uid records), ancestry, udp_session's book, and each
// probe's line. The input is a sequence of records, each a 2-byte length
// (little endian) then that many bytes (a length past the end takes what
// is left: truncated records). Every line made must be one line of valid
// JSON, an object, however hostile the comm, argv or addresses.
#include <nlohmann/json.hpp>

#include <cstring>
#include <string>
#include <type_traits>
#include <variant>

#include "fuzz_util.h"
#include "output/json.h"
#include "probes/events.h"
#include "probes/udp_session/session_book.h"
#include "process/ancestry.h"

namespace {

using namespace pidtree;

class NoProc : public ProcessSource {
 public:
  ReadStatus read(uint32_t, ProcessInfo *) override {
    return ReadStatus::kGone;
  }
  uint64_t start_time_ns(uint32_t) override { return 0; }
  std::vector<uint32_t> list_pids() override { return {}; }
};

class Users : public UserDb {
 public:
  // Names with bytes a passwd file could hold.
  std::string name(uint32_t uid) override {
    return uid % 3 == 0 ? std::string("r\"\\\n\x01\xff", 6)
                        : std::to_string(uid);
  }
};

void check_line(const std::string &line) {
  FUZZ_CHECK(!line.empty() && line.back() == '\n', line);
  FUZZ_CHECK(line.find('\n') == line.size() - 1, line);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const std::exception &e) {
    fuzz::fail("invalid JSON", std::string(e.what()) + ": " + line);
  }
  FUZZ_CHECK(j.is_object(), line);
  FUZZ_CHECK(j.contains("proctree") && j["proctree"].is_array(), line);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  NoProc proc;
  Users users;
  ProcessTable table(64);  // small: eviction is reached
  TableAncestry resolver(table, proc, users);
  resolver.set_loginuid_from_kernel(true);
  SessionBook book(5'000'000'000, 1'000'000'000, 8);
  const std::string ts = "2026-12-01T00:00:00Z";
  Enrichment login_all{"", LoginFields::kAll};

  size_t at = 0;
  while (at + 2 <= size) {
    size_t len = data[at] | static_cast<size_t>(data[at + 1]) << 8;
    at += 2;
    len = std::min(len, size - at);
    // A copy of its own, so reads past the record's end are caught.
    std::vector<uint8_t> record(data + at, data + at + len);
    at += len;
    std::optional<Event> event = decode_event(record.data(), record.size());
    if (!event)
      continue;
    event_time(*event);
    std::visit(
        [&](const auto &ev) {
          using E = std::decay_t<decltype(ev)>;
          if constexpr (std::is_same_v<E, ProcEvent>) {
            resolver.apply(ev);
          } else if constexpr (std::is_same_v<E, UdpSessionEvent>) {
            Ancestry tree = resolver.resolve(EventTask{ev.pid, ev.uid});
            std::string name = users.name(ev.uid);
            if (!ev.end) {
              book.start(ev, tree, name);
              return;
            }
            SessionBook::Made fallback{{}, tree, name};
            SessionBook::Made made = book.end(ev, &fallback);
            std::string out;
            append_json(&out, made.line,
                        EventLine{made.tree, made.username, ts}, ts);
            check_line(out);
          } else if constexpr (!for_stage<E>::value &&
                               !std::is_same_v<E, CgroupEvent>) {
            Ancestry tree = resolver.resolve(ev.task());
            std::string name = users.name(ev.uid);
            std::string out;
            append_json(&out, ev, EventLine{tree, name, ts, &login_all});
            check_line(out);
          }
        },
        *event);
  }
  return 0;
}
