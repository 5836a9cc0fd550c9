#include "probes/udp_session/udp_session.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "common/clock.h"
#include "kernel/filter_maps.h"
#include "output/output.h"

namespace pidtree {

namespace {

constexpr uint64_t kMaxDurationMs = 31536000ull * 1000;  // a year
constexpr uint64_t kMinScanNs = 50'000'000;              // 50 ms
constexpr uint64_t kMaxScanNs = 2'000'000'000;           // 2 s

// Upstream's session_max_duration: a number of seconds (time.sleep()'s
// argument there, so decimals work); 0 ends every session at the next
// check, as there.
std::shared_ptr<const ProbeSettings> parse_settings(
    const std::vector<std::pair<std::string, ConfigValue>> &keys,
    std::vector<std::string> *) {
  auto s = std::make_shared<UdpSessionSettings>();
  for (const auto &[key, value] : keys) {
    if (key != "session_max_duration")
      continue;
    std::string text = value.scalar("a number of seconds");
    const char *p = text.c_str();
    uint64_t whole = 0, frac = 0;
    int int_digits = 0, frac_digits = 0;
    for (; *p >= '0' && *p <= '9' && int_digits < 12; ++p, ++int_digits)
      whole = whole * 10 + static_cast<uint64_t>(*p - '0');
    if (*p == '.')
      for (++p; *p >= '0' && *p <= '9' && frac_digits < 3; ++p, ++frac_digits)
        frac = frac * 10 + static_cast<uint64_t>(*p - '0');
    for (int d = frac_digits; d < 3; ++d)
      frac *= 10;
    uint64_t ms = whole * 1000 + frac;
    if (*p != '\0' || int_digits + frac_digits == 0 || ms > kMaxDurationMs)
      value.fail("expected a number of seconds from 0 to 31536000, got '" +
                 printable(text) + "'");
    s->max_duration_ns = ms * 1'000'000;
  }
  return s;
}

const UdpSessionSettings &settings_of(const ProbeConfig &section) {
  static const UdpSessionSettings kDefaults;
  const auto *s = section.settings_as<UdpSessionSettings>();
  return s ? *s : kDefaults;
}

uint64_t scan_period(uint64_t max_duration_ns) {
  return std::clamp<uint64_t>(max_duration_ns / 10, kMinScanNs, kMaxScanNs);
}

}  // namespace

SectionSpec udp_session_section() {
  SectionSpec spec;
  spec.name = "udp_session";
  spec.keys = {"session_max_duration"};
  spec.parse = parse_settings;
  return spec;
}

UdpSessionProbe::UdpSessionProbe(Backend backend, const ProbeConfig &section)
    : Probe("udp_session", PIDTREE_SLOT_UDP_SESSION),
      backend_(backend),
      settings_(settings_of(section)),
      book_(settings_.max_duration_ns, scan_period(settings_.max_duration_ns),
            2 * kMaxUdpSessions) {
  // No default filters (as upstream).
  filters_ = section_filters(section);
}

// Without the last scan: the maps may be gone by now.
UdpSessionProbe::~UdpSessionProbe() { worker_.stop(); }

uint64_t UdpSessionProbe::scan_period_ns() const {
  return scan_period(settings_.max_duration_ns);
}

std::string UdpSessionProbe::description() const {
  return std::string("UDP sessions with the ") + backend_name(backend_) +
         " backend";
}

std::string UdpSessionProbe::check(const ProgramShape &shape) const {
  if (!shape.sock_offsets || !shape.socket_offsets)
    return "udp_session reads sockets at offsets from the kernel's BTF, "
           "which this kernel does not have (/sys/kernel/btf/vmlinux)";
  return "";
}

std::string UdpSessionProbe::blind_spot(const ProgramShape &shape) const {
  if (backend_ == Backend::kKprobe || shape.have_sock_send_length)
    return "";
  return "udp_session: this kernel has no sock:sock_send_length tracepoint "
         "(Linux 6.3+), so the tracepoint backend does not see sends on "
         "connected UDP sockets (send(), or sendto() without an address); "
         "--backend kprobe does, where the kernel has kprobes";
}

void UdpSessionProbe::build(ProgramBuilder *program) const {
  const bool kprobe = backend_ == Backend::kKprobe;
  const bool send_length = !kprobe && program->shape().have_sock_send_length;
  program->define("UDP_MAX_SESSIONS", kMaxUdpSessions);
  program->define("UDP_KPROBE", kprobe ? 1 : 0);
  program->define("UDP_SEND_LENGTH", send_length ? 1 : 0);
  program->source("udp_session.bpf.c");
  if (kprobe) {
    program->source("udp_session_kprobe.bpf.c");
    for (const auto &[target, function] :
         {std::pair{"udp_sendmsg", "udp_session_kprobe4"},
          {"udpv6_sendmsg", "udp_session_kprobe6"}}) {
      Hook h;
      h.type = HookType::kKprobe;
      h.target = target;
      h.function = function;
      program->hook(h);
    }
  } else {
    program->hook(cgroup_hook("udp_session_sendmsg4",
                              BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                              BPF_CGROUP_UDP4_SENDMSG));
    program->hook(cgroup_hook("udp_session_sendmsg6",
                              BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                              BPF_CGROUP_UDP6_SENDMSG));
    if (send_length) {
      Hook h;
      h.type = HookType::kRawTracepoint;
      h.target = "sock_send_length";
      h.function = "raw_tracepoint__sock_send_length";
      program->hook(h);
    }
  }
  program->hook(cgroup_hook("udp_session_release", BPF_PROG_TYPE_CGROUP_SOCK,
                            BPF_CGROUP_INET_SOCK_RELEASE));
}

std::string UdpSessionProbe::validate(const FileConfig &file) const {
  std::string why = FilterMaps::check(section_filters(file.section(name())));
  return why.empty() ? "" : std::string(name()) + ": " + why;
}

std::vector<std::string> UdpSessionProbe::restart_reasons(
    const FileConfig &file) const {
  if (settings_of(file.section(name())).max_duration_ns ==
      settings_.max_duration_ns)
    return {};
  return {"udp_session.session_max_duration changed"};
}

void UdpSessionProbe::reconfigure(const FileConfig &file,
                                  std::vector<std::string> *notes) {
  for (const auto &why : restart_reasons(file))
    notes->push_back(why + ": restart pidtree-bcc to apply it");
  filters_ = section_filters(file.section(name()));
}

void UdpSessionProbe::scan(MapAccess &maps, uint64_t now_ns,
                           const std::function<uint64_t()> &clock, bool last) {
  const uint64_t max = settings_.max_duration_ns;
  const uint64_t due = max > scan_period_ns() ? max - scan_period_ns() : 0;
  std::vector<Event> found;
  uint64_t key = 0, next = 0;
  // The next key is taken before an entry is deleted, so deleting does
  // not restart the walk.
  bool more = maps.next_key("udp_sessions", nullptr, &next);
  pidtree_udp_session raw;
  while (more) {
    key = next;
    more = maps.next_key("udp_sessions", &key, &next);
    if (!maps.lookup("udp_sessions", &key, &raw))
      continue;  // ended meanwhile
    bool idle = now_ns >= raw.last_ns && now_ns - raw.last_ns >= max;
    bool old = now_ns >= raw.first_ns && now_ns - raw.first_ns >= due;
    if (!idle && !old && !last)
      continue;
    UdpSessionScanned ev;
    ev.key = key;
    ev.why = idle   ? UdpSessionScanned::Why::kExpired
             : last ? UdpSessionScanned::Why::kStopped
                    : UdpSessionScanned::Why::kDue;
    if (idle) {
      // Stamped before it goes: a send after this starts a new session,
      // with a later stamp.
      ev.ts_boot_ns = clock();
      if (!maps.lookup_and_delete("udp_sessions", &key, &raw))
        continue;  // released meanwhile: its end comes from the kernel
    } else {
      ev.ts_boot_ns = now_ns;
    }
    auto record = parse_udp_session(raw);
    if (!record)
      continue;
    ev.record = std::move(*record);
    found.emplace_back(std::move(ev));
  }
  if (auto u = untracked_.take(maps, now_ns))
    found.emplace_back(*u);
  worker_.post(std::move(found));
}

void UdpSessionProbe::start() {
  if (!maps_)
    return;
  worker_.start(std::chrono::nanoseconds(scan_period_ns()), false,
                [this] { scan(*maps_, boottime_now_ns(), boottime_now_ns); });
}

void UdpSessionProbe::collect(std::vector<Event> *out) { worker_.collect(out); }

void UdpSessionProbe::stop() {
  // The last scan, once the scans' thread has ended.
  if (worker_.stop())
    scan(*maps_, boottime_now_ns(), boottime_now_ns, true);
}

SessionBook::Made UdpSessionProbe::fallback(const UdpSessionRecord &record,
                                            LineOutput &out,
                                            const std::string &why) {
  SessionBook::Made made;
  made.tree = out.resolve(EventTask{record.pid, std::nullopt});
  made.tree.error =
      made.tree.error.empty() ? why : why + "; " + made.tree.error;
  made.username = out.username(record.uid);
  return made;
}

void UdpSessionProbe::write(const SessionBook::Made &made, LineOutput &out) {
  const Enrichment *enrichment = out.enrich(EventOrigin{
      PIDTREE_SLOT_UDP_SESSION, made.line.cgroup_id, nullptr, made.line.pid});
  if (!enrichment)
    return;  // container_labels
  std::string first = out.timestamp(made.line.first_ns);
  std::string end = out.timestamp(made.line.end_ns);
  append_json(&out.lines(), made.line,
              EventLine{made.tree, made.username, first, enrichment}, end);
}

bool UdpSessionProbe::take(const Event &event, LineOutput &out) {
  if (const auto *ev = std::get_if<UdpSessionEvent>(&event)) {
    if (!ev->end) {
      // The session's first send: its sender's tree as of now, which in
      // the event order is that send's moment.
      book_.start(*ev, out.resolve(EventTask{ev->pid, ev->uid, ev->loginuid}),
                  out.username(ev->uid));
      return true;
    }
    SessionBook::Made lost;
    const SessionBook::Made *fb = nullptr;
    if (!book_.known(ev->key)) {
      lost = fallback(ev->record, out,
                      "the session's start was not seen; its tree was read "
                      "at its end");
      fb = &lost;
    }
    write(book_.end(*ev, fb), out);
    return true;
  }
  if (const auto *ev = std::get_if<UdpSessionScanned>(&event)) {
    SessionBook::Made lost;
    const SessionBook::Made *fb = nullptr;
    if (!book_.known(ev->key)) {
      lost = fallback(ev->record, out,
                      "the session's start was not seen; its tree was read "
                      "later");
      fb = &lost;
    }
    if (auto made = book_.scanned(*ev, fb))
      write(*made, out);
    return true;
  }
  if (const auto *ev = std::get_if<UdpSessionsUntracked>(&event)) {
    out.lines() +=
        JsonFormatter().counter("udp_sessions_untracked", ev->count, ev->total,
                                out.timestamp(ev->ts_boot_ns));
    return true;
  }
  return false;
}

}  // namespace pidtree
