#include "probes/net_listen/net_listen.h"

#include <chrono>

#include "kernel/filter_maps.h"
#include "probes/net_listen/snapshot.h"

namespace pidtree {

namespace {

constexpr int kTcpListenState = 10;
constexpr uint64_t kMaxPeriodMs = 31536000ull * 1000;  // a year

// A YAML boolean, or 0 / 1 (upstream takes any value for its truth).
bool flag(const ConfigValue &value) {
  if (auto b = value.as_bool())
    return *b;
  std::string text = value.scalar("true or false");
  if (text == "0" || text == "1")
    return text == "1";
  value.fail("expected true or false, got '" + printable(text) + "'");
}

// Upstream's snapshot_periodicity: false (its default) or a number of
// seconds, sleep()'s argument there: decimals work, true is 1 and 0 or
// less means no snapshots. Milliseconds; 0 is off.
uint64_t snapshot_period_ms(const ConfigValue &value,
                            std::vector<std::string> *notes) {
  if (auto b = value.as_bool()) {
    if (*b)
      notes->push_back(value.where() +
                       ": true means a snapshot every second (as upstream); "
                       "give a number of seconds");
    return *b ? 1000 : 0;
  }
  std::string text = value.scalar("a number of seconds or false");
  const char *p = text.c_str();
  bool negative = *p == '-';
  p += negative;
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
  if (*p != '\0' || int_digits + frac_digits == 0 || ms > kMaxPeriodMs)
    value.fail(
        "expected a number of seconds from 0 to 31536000 (or false), "
        "got '" +
        printable(text) + "'");
  if (negative && ms > 0) {
    notes->push_back(value.where() +
                     ": a period below 0 means no snapshots (as upstream)");
    return 0;
  }
  return ms;
}

std::shared_ptr<const ProbeSettings> parse_settings(
    const std::vector<std::pair<std::string, ConfigValue>> &keys,
    std::vector<std::string> *notes) {
  auto s = std::make_shared<NetListenSettings>();
  for (const auto &[key, value] : keys) {
    if (key == "protocols") {
      s->tcp = s->udp = false;
      for (const ConfigValue &item :
           value.items("a list of protocols (tcp, udp)")) {
        std::string proto = item.scalar("tcp or udp");
        if (proto == "tcp")
          s->tcp = true;
        else if (proto == "udp")
          s->udp = true;
        else
          item.fail("expected tcp or udp, got '" + printable(proto) + "'");
      }
      if (!s->tcp && !s->udp)
        notes->push_back(value.where() +
                         ": no protocol is listed; net_listen reports "
                         "nothing");
    } else if (key == "snapshot_periodicity") {
      s->snapshot_period_ms = snapshot_period_ms(value, notes);
    } else if (key == "same_namespace_only") {
      s->same_namespace_only = flag(value);
    } else if (key == "exclude_random_bind") {
      s->exclude_random_bind = flag(value);
    }
  }
  return s;
}

const NetListenSettings &settings_of(const ProbeConfig &section) {
  static const NetListenSettings kDefaults;
  const auto *s = section.settings_as<NetListenSettings>();
  return s ? *s : kDefaults;
}

}  // namespace

SectionSpec net_listen_section() {
  SectionSpec spec;
  spec.name = "net_listen";
  spec.keys = {"snapshot_periodicity", "protocols", "same_namespace_only",
               "exclude_random_bind"};
  spec.parse = parse_settings;
  return spec;
}

NetListenProbe::NetListenProbe(Backend backend, const ProbeConfig &section,
                               uint32_t own_netns)
    : Probe("net_listen", PIDTREE_SLOT_NET_LISTEN),
      backend_(backend),
      own_netns_(own_netns),
      settings_(settings_of(section)),
      marks_random_binds_(settings_.exclude_random_bind) {
  // No default filters (as upstream): a listener on loopback is news too.
  filters_ = section_filters(section);
}

NetListenProbe::~NetListenProbe() { stop(); }

std::string NetListenProbe::description() const {
  std::string tcp = std::string("TCP listens with the ") +
                    backend_name(backend_) + " backend";
  if (settings_.tcp && settings_.udp)
    return tcp + " and UDP binds";
  return settings_.tcp ? tcp
         : settings_.udp
             ? "UDP binds"
             : "no listens or binds (net_listen.protocols is empty)";
}

std::string NetListenProbe::check(const ProgramShape &shape) const {
  if (!shape.sock_offsets || !shape.socket_offsets)
    return "net_listen reads sockets at offsets from the kernel's BTF, which "
           "this kernel does not have (/sys/kernel/btf/vmlinux)";
  return "";
}

void NetListenProbe::build(ProgramBuilder *program) const {
  const bool kprobe = backend_ == Backend::kKprobe;
  program->define("LISTEN_TCP", settings_.tcp ? 1 : 0);
  program->define("LISTEN_UDP", settings_.udp ? 1 : 0);
  program->define("LISTEN_KPROBE", kprobe ? 1 : 0);
  program->source("net_listen.bpf.c");
  if (settings_.tcp && kprobe) {
    program->source("net_listen_kprobe.bpf.c");
    Hook entry;
    entry.type = HookType::kKprobe;
    entry.target = "inet_listen";
    entry.function = "net_listen_kprobe_entry";
    program->hook(entry);
    Hook ret = entry;
    ret.type = HookType::kKretprobe;
    ret.function = "net_listen_kprobe_return";
    program->hook(ret);
  } else if (settings_.tcp) {
    program->on_sock_state("net_listen_on_sock_state", {kTcpListenState});
    // Unbound listens get their port after the state change; the
    // sock_ops program sees it (see bpf/net_listen.bpf.c).
    program->hook(cgroup_hook("net_listen_sock_ops", BPF_PROG_TYPE_SOCK_OPS,
                              BPF_CGROUP_SOCK_OPS));
  }
  // Every bind() on the host runs these, so the ones before the bind
  // (which only mark binds to port 0) are attached only when asked for.
  if (settings_.udp && marks_random_binds_) {
    program->hook(cgroup_hook("net_listen_bind4",
                              BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                              BPF_CGROUP_INET4_BIND));
    program->hook(cgroup_hook("net_listen_bind6",
                              BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                              BPF_CGROUP_INET6_BIND));
  }
  if (settings_.udp) {
    program->hook(cgroup_hook("net_listen_post_bind4",
                              BPF_PROG_TYPE_CGROUP_SOCK,
                              BPF_CGROUP_INET4_POST_BIND));
    program->hook(cgroup_hook("net_listen_post_bind6",
                              BPF_PROG_TYPE_CGROUP_SOCK,
                              BPF_CGROUP_INET6_POST_BIND));
  }
}

pidtree_probe_settings NetListenProbe::settings() const {
  std::lock_guard<std::mutex> lock(mutex_);
  pidtree_probe_settings s{};
  if (settings_.same_namespace_only)
    s.flags |= PIDTREE_LISTEN_SAME_NETNS;
  if (settings_.exclude_random_bind)
    s.flags |= PIDTREE_LISTEN_NO_RANDOM_BIND;
  s.netns = own_netns_;
  return s;
}

std::string NetListenProbe::validate(const FileConfig &file) const {
  std::string why = FilterMaps::check(section_filters(file.section(name())));
  return why.empty() ? "" : std::string(name()) + ": " + why;
}

std::vector<std::string> NetListenProbe::restart_reasons(
    const FileConfig &file) const {
  const NetListenSettings &next = settings_of(file.section(name()));
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> out;
  if (next.tcp != settings_.tcp || next.udp != settings_.udp)
    out.push_back(
        "net_listen.protocols changed (its hooks are attached at start)");
  if (next.snapshot_period_ms != settings_.snapshot_period_ms)
    out.push_back("net_listen.snapshot_periodicity changed");
  if (next.exclude_random_bind && !marks_random_binds_)
    out.push_back(
        "net_listen.exclude_random_bind turned on (the hooks that see a "
        "bind's asked-for port are attached only when it is on at start)");
  return out;
}

void NetListenProbe::reconfigure(const FileConfig &file,
                                 std::vector<std::string> *notes) {
  for (const auto &why : restart_reasons(file))
    notes->push_back(why + ": restart pidtree-bcc to apply it");
  const ProbeConfig &section = file.section(name());
  const NetListenSettings &next = settings_of(section);
  std::lock_guard<std::mutex> lock(mutex_);
  settings_.same_namespace_only = next.same_namespace_only;
  settings_.exclude_random_bind =
      next.exclude_random_bind && marks_random_binds_;
  filters_ = section_filters(section);
}

bool NetListenProbe::keep(const ListenEvent &event) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (event.protocol == Protocol::kTcp ? !settings_.tcp : !settings_.udp)
    return false;
  if (settings_.same_namespace_only && event.netns != own_netns_)
    return false;
  return !is_filtered(filters_, event.laddr, event.port);
}

void NetListenProbe::snapshot(SocketSource &source) {
  bool tcp, udp;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tcp = settings_.tcp;
    udp = settings_.udp;
  }
  std::vector<ListenEvent> found = scan_listeners(
      source, tcp, udp, [this](const ListenEvent &e) { return keep(e); });
  worker_.post(std::vector<Event>(std::make_move_iterator(found.begin()),
                                  std::make_move_iterator(found.end())));
}

void NetListenProbe::append_flood_destination(
    std::string *out, const FloodSummary &summary) const {
  append_flood_address(out, "laddr", summary);
  out->append(summary.protocol == 6 ? ",\"protocol\":\"tcp\","
                                    : ",\"protocol\":\"udp\",");
  append_json_key(out, "netns");
  append_json_number(out, summary.netns);
}

void NetListenProbe::start() {
  if (settings_.snapshot_period_ms == 0)
    return;
  // One at start, then every period.
  worker_.start(std::chrono::milliseconds(settings_.snapshot_period_ms), true,
                [this, source = std::make_shared<ProcSocketSource>()] {
                  snapshot(*source);
                });
}

void NetListenProbe::collect(std::vector<Event> *out) { worker_.collect(out); }

void NetListenProbe::stop() { worker_.stop(); }

}  // namespace pidtree
