#include "probes/net_listen/net_listen.h"

#include <chrono>

#include "kernel/filter_maps.h"
#include "probes/net_listen/snapshot.h"

namespace pidtree {

namespace {

constexpr int kTcpListenState = 10;
constexpr long kMaxPeriod = 31536000;  // a year

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
      // Upstream's default is false; true sleeps one second there.
      if (auto b = value.as_bool()) {
        s->snapshot_periodicity = *b ? 1 : 0;
        if (*b)
          notes->push_back(value.where() +
                           ": true means a snapshot every second (as "
                           "upstream); give a number of seconds");
      } else {
        s->snapshot_periodicity =
            static_cast<unsigned>(value.integer(0, kMaxPeriod));
      }
    } else if (key == "same_namespace_only") {
      s->same_namespace_only = value.boolean();
    } else if (key == "exclude_random_bind") {
      s->exclude_random_bind = value.boolean();
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
      settings_(settings_of(section)) {
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
  if (!shape.sock_offsets || !shape.listen_offsets)
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
  if (settings_.udp) {
    program->hook(cgroup_hook("net_listen_bind4",
                              BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                              BPF_CGROUP_INET4_BIND));
    program->hook(cgroup_hook("net_listen_bind6",
                              BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                              BPF_CGROUP_INET6_BIND));
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

void NetListenProbe::reconfigure(const FileConfig &file,
                                 std::vector<std::string> *notes) {
  const ProbeConfig &section = file.section(name());
  const NetListenSettings &next = settings_of(section);
  std::lock_guard<std::mutex> lock(mutex_);
  if (next.tcp != settings_.tcp || next.udp != settings_.udp)
    notes->push_back(
        "net_listen.protocols changed: its hooks are attached at start; "
        "restart pidtree-bcc to apply it");
  if (next.snapshot_periodicity != settings_.snapshot_periodicity)
    notes->push_back(
        "net_listen.snapshot_periodicity changed: restart pidtree-bcc to "
        "apply it");
  settings_.same_namespace_only = next.same_namespace_only;
  settings_.exclude_random_bind = next.exclude_random_bind;
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
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto &e : found)
    made_.emplace_back(std::move(e));
}

void NetListenProbe::start() {
  if (settings_.snapshot_periodicity == 0 || thread_.joinable())
    return;
  thread_ = std::thread([this] { snapshot_loop(); });
}

void NetListenProbe::snapshot_loop() {
  ProcSocketSource source;
  const auto period = std::chrono::seconds(settings_.snapshot_periodicity);
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    snapshot(source);
    lock.lock();
    wake_.wait_for(lock, period, [this] { return stopping_; });
  }
}

void NetListenProbe::collect(std::vector<Event> *out) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto &e : made_)
    out->push_back(std::move(e));
  made_.clear();
}

void NetListenProbe::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

}  // namespace pidtree
