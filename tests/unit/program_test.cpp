// The generated BPF program: each probe's parts for each backend, the right
// defines and hooks, the shared layouts, and no user-supplied text.
#include "kernel/program.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/options.h"
#include "probes/probe_set.h"
#include "probes/registry.h"

namespace pidtree {
namespace {

// The sources under bpf/, as they are on disk (the program embeds them).
std::string bpf_source(const std::string &name) {
  std::string path = std::string(PIDTREE_FIXTURES) + "/../../../bpf/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string define_value(const std::string &program, const std::string &name) {
  std::string literal =
      std::regex_replace(name, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)");
  std::regex re("(^|\n)#define " + literal + " ([^\n]*)\n");
  std::smatch m;
  if (!std::regex_search(program, m, re))
    return "<missing>";
  return m[2];
}

Options parse_ok(std::vector<std::string> args) {
  args.insert(args.begin(), "pidtree-bcc");
  std::vector<const char *> argv;
  for (const auto &a : args)
    argv.push_back(a.c_str());
  ParseResult r = parse_options(static_cast<int>(argv.size()), argv.data());
  EXPECT_EQ(r.action, ParseResult::Action::kRun) << r.err;
  return r.options;
}

std::vector<std::string> lines_of(const std::string &text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    out.push_back(line);
  return out;
}

SockOffsets sock_offsets() {
  SockOffsets o;
  o.daddr = 0, o.rcv_saddr = 4, o.dport = 12, o.num = 14, o.family = 16;
  o.v6_daddr = 56, o.v6_rcv_saddr = 72, o.protocol = 532, o.head = 24;
  return o;
}

SocketOffsets socket_offsets() {
  SocketOffsets o;
  o.skc_net = 48, o.net_ns_inum = 176, o.socket_sk = 24, o.skc_state = 18;
  return o;
}

// A kernel with BTF (the default) or without.
ProgramShape shape_for(Backend backend, bool btf = true) {
  ProgramShape s;
  s.backend = backend;
  if (btf) {
    s.sock_offsets = sock_offsets();
    s.socket_offsets = socket_offsets();
  }
  return s;
}

// The probes of `args` (or of `yaml`, a configuration file) built for
// `shape`.
ProgramBuilder program_for(const ProgramShape &shape,
                           std::vector<std::string> args,
                           const std::string &yaml = "") {
  Options o = parse_ok(args);
  std::unique_ptr<FileConfig> file;
  if (!yaml.empty()) {
    std::string path = std::filesystem::temp_directory_path() /
                       ("pidtree-program-" + std::to_string(getpid()) + ".yml");
    std::ofstream(path) << yaml;
    file = std::make_unique<FileConfig>(load_config(path));
    std::filesystem::remove(path);
  }
  ProbeSet probes(make_probes(o, file.get(), shape.backend, 4026531840u));
  EXPECT_EQ(probes.check(shape), "");
  return probes.build(shape);
}

bool has_hook(const std::vector<Hook> &hooks, HookType type,
              const std::string &function) {
  return std::any_of(hooks.begin(), hooks.end(), [&](const Hook &h) {
    return h.type == type && h.function == function;
  });
}

TEST(TcpConnect, KprobeBackend) {
  ProgramBuilder b = program_for(shape_for(Backend::kKprobe, false), {});
  std::string p = b.text();
  EXPECT_NE(p.find("int pidtree_v4_entry("), std::string::npos);
  EXPECT_NE(p.find("int pidtree_return("), std::string::npos);
  EXPECT_EQ(p.find("TRACEPOINT_PROBE"), std::string::npos);
  EXPECT_NE(p.find(bpf_source("tcp_connect_kprobe.bpf.c")), std::string::npos);
  EXPECT_NE(p.find("kprobe backend"), std::string::npos) << p.substr(0, 200);
  auto hooks = b.hooks();
  ASSERT_EQ(hooks.size(), 4u);
  EXPECT_EQ(hooks[0].type, HookType::kKprobe);
  EXPECT_EQ(hooks[0].target, "tcp_v4_connect");
  EXPECT_EQ(hooks[1].type, HookType::kKretprobe);
  EXPECT_EQ(hooks[3].target, "tcp_v6_connect");
}

TEST(TcpConnect, TracepointBackendIsAHandlerOfTheSharedStateHook) {
  for (bool btf : {false, true}) {
    ProgramBuilder b = program_for(shape_for(Backend::kTracepoint, btf), {});
    std::string p = b.text();
    EXPECT_NE(p.find(bpf_source("tcp_connect_tracepoint.bpf.c")),
              std::string::npos);
    EXPECT_NE(p.find(bpf_source("sock_state.bpf.c")), std::string::npos);
    EXPECT_EQ(define_value(p, "PIDTREE_SOCK_STATES"), "4");  // SYN_SENT
    EXPECT_EQ(define_value(p, "PIDTREE_SOCK_STATE_HANDLERS(ctx, s)"),
              "tcp_connect_on_sock_state(ctx, s);");
    EXPECT_EQ(p.find("pidtree_v4_entry"), std::string::npos);
    auto hooks = b.hooks();
    ASSERT_EQ(hooks.size(), 1u);
    // With BTF the state-change program is raw; without, classic.
    EXPECT_EQ(hooks[0].type,
              btf ? HookType::kRawTracepoint : HookType::kTracepoint);
    EXPECT_EQ(hooks[0].target,
              btf ? "inet_sock_set_state" : "sock:inet_sock_set_state");
    EXPECT_EQ(define_value(p, "PIDTREE_SOCK_FROM_BTF"), btf ? "1" : "0");
  }
}

TEST(NetListen, TracepointBackendHooks) {
  ProgramBuilder b = program_for(shape_for(Backend::kTracepoint),
                                 {"--probes", "tcp_connect,net_listen"});
  std::string p = b.text();
  EXPECT_NE(p.find(bpf_source("net_listen.bpf.c")), std::string::npos);
  EXPECT_EQ(p.find(bpf_source("net_listen_kprobe.bpf.c")), std::string::npos);
  // One state-change program serves both probes.
  EXPECT_EQ(define_value(p, "PIDTREE_SOCK_STATES"),
            std::to_string((1 << 2) | (1 << 10)));
  EXPECT_EQ(define_value(p, "PIDTREE_SOCK_STATE_HANDLERS(ctx, s)"),
            "tcp_connect_on_sock_state(ctx, s); net_listen_on_sock_state(ctx, "
            "s);");
  EXPECT_EQ(define_value(p, "PIDTREE_LISTEN_TCP"), "1");
  EXPECT_EQ(define_value(p, "PIDTREE_LISTEN_UDP"), "0");  // default [tcp]
  EXPECT_EQ(define_value(p, "PIDTREE_LISTEN_KPROBE"), "0");
  EXPECT_EQ(define_value(p, "PIDTREE_SKC_NET"), "48");
  EXPECT_EQ(define_value(p, "PIDTREE_NET_NS_INUM"), "176");
  auto hooks = b.hooks();
  EXPECT_TRUE(has_hook(hooks, HookType::kCgroup, "net_listen_sock_ops"));
  EXPECT_FALSE(has_hook(hooks, HookType::kCgroup, "net_listen_post_bind4"));
  EXPECT_EQ(std::count_if(hooks.begin(), hooks.end(),
                          [](const Hook &h) {
                            return h.type == HookType::kRawTracepoint;
                          }),
            1);
  // The shared hook comes last, after the probes' own.
  EXPECT_EQ(hooks.back().type, HookType::kRawTracepoint);
}

TEST(NetListen, UdpAddsTheBindHooks) {
  // Without exclude_random_bind, only the hooks after the bind.
  auto plain = program_for(shape_for(Backend::kTracepoint), {},
                           "net_listen:\n  protocols: [udp]\n")
                   .hooks();
  ASSERT_EQ(plain.size(), 2u);
  EXPECT_EQ(plain[0].function, "net_listen_post_bind4");
  EXPECT_EQ(plain[1].function, "net_listen_post_bind6");
  ProgramBuilder b = program_for(
      shape_for(Backend::kTracepoint), {},
      "net_listen:\n  protocols: [udp]\n  exclude_random_bind: true\n");
  std::string p = b.text();
  EXPECT_EQ(define_value(p, "PIDTREE_LISTEN_TCP"), "0");
  EXPECT_EQ(define_value(p, "PIDTREE_LISTEN_UDP"), "1");
  auto hooks = b.hooks();
  ASSERT_EQ(hooks.size(), 4u);  // no state-change hook without tcp
  const std::pair<const char *, bpf_attach_type> kWanted[] = {
      {"net_listen_bind4", BPF_CGROUP_INET4_BIND},
      {"net_listen_bind6", BPF_CGROUP_INET6_BIND},
      {"net_listen_post_bind4", BPF_CGROUP_INET4_POST_BIND},
      {"net_listen_post_bind6", BPF_CGROUP_INET6_POST_BIND}};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(hooks[i].type, HookType::kCgroup);
    EXPECT_EQ(hooks[i].function, kWanted[i].first);
    EXPECT_EQ(hooks[i].attach_type, kWanted[i].second);
  }
}

// The body of function `name` in `src` (from its defining "{" to the
// matching "}"), or "".
std::string function_body(const std::string &src, const std::string &name) {
  std::regex def("(^|\\n)[^\\n;]*\\b" + name + "\\([^;{]*\\)\\s*\\{");
  std::smatch m;
  if (!std::regex_search(src, m, def))
    return "";
  size_t open = static_cast<size_t>(m.position(0) + m.length(0)) - 1;
  int depth = 0;
  for (size_t i = open; i < src.size(); ++i) {
    depth += src[i] == '{' ? 1 : src[i] == '}' ? -1 : 0;
    if (depth == 0)
      return src.substr(open, i - open + 1);
  }
  return "";
}

TEST(NetListen, EveryCgroupProgramReturnsOneOnEveryPath) {
  // A cgroup program that returns 0 refuses the application's bind() or
  // listen(): each returns 1, or what a helper that returns 1 returns.
  std::string src = bpf_source("net_listen.bpf.c");
  ProgramBuilder b = program_for(shape_for(Backend::kTracepoint), {},
                                 "net_listen:\n  protocols: [tcp, udp]\n"
                                 "  exclude_random_bind: true\n");
  std::vector<std::string> functions;
  for (const Hook &h : b.hooks())
    if (h.type == HookType::kCgroup)
      functions.push_back(h.function);
  ASSERT_EQ(functions.size(), 5u);
  const std::vector<std::string> helpers = {"net_listen_before_bind",
                                            "net_listen_post_bind"};
  functions.insert(functions.end(), helpers.begin(), helpers.end());
  std::regex returns("\\breturn\\b([^;]*);");
  for (const auto &f : functions) {
    std::string body = function_body(src, f);
    ASSERT_FALSE(body.empty()) << f;
    int count = 0;
    for (std::sregex_iterator it(body.begin(), body.end(), returns), end;
         it != end; ++it, ++count) {
      std::string value =
          std::regex_replace(std::string((*it)[1]), std::regex("^\\s+"), "");
      bool ok = value == "1";
      for (const auto &h : helpers)
        ok = ok || value.rfind(h + "(", 0) == 0;
      EXPECT_TRUE(ok) << f << ": return " << value;
    }
    EXPECT_GT(count, 0) << f;
  }
}

TEST(UdpSession, EveryCgroupProgramReturnsOneOnEveryPath) {
  // A cgroup program that returns 0 refuses the application's send (or
  // the socket's release): each returns 1, or what its helper returns.
  std::string src = bpf_source("udp_session.bpf.c");
  ProgramShape shape = shape_for(Backend::kTracepoint);
  shape.have_sock_send_length = true;
  ProgramBuilder b = program_for(shape, {}, "udp_session:\n");
  std::vector<std::string> functions;
  for (const Hook &h : b.hooks())
    if (h.type == HookType::kCgroup)
      functions.push_back(h.function);
  ASSERT_EQ(functions.size(), 3u);
  const std::string helper = "udp_session_sendmsg";
  functions.push_back(helper);
  std::regex returns("\\breturn\\b([^;]*);");
  for (const auto &f : functions) {
    std::string body = function_body(src, f);
    ASSERT_FALSE(body.empty()) << f;
    int count = 0;
    for (std::sregex_iterator it(body.begin(), body.end(), returns), end;
         it != end; ++it, ++count) {
      std::string value =
          std::regex_replace(std::string((*it)[1]), std::regex("^\\s+"), "");
      EXPECT_TRUE(value == "1" || value.rfind(helper + "(", 0) == 0)
          << f << ": return " << value;
    }
    EXPECT_GT(count, 0) << f;
  }
}

TEST(NetListen, KprobeBackendListensThroughInetListen) {
  ProgramBuilder b = program_for(shape_for(Backend::kKprobe), {},
                                 "net_listen:\n  protocols: [tcp, udp]\n");
  std::string p = b.text();
  EXPECT_NE(p.find(bpf_source("net_listen_kprobe.bpf.c")), std::string::npos);
  EXPECT_EQ(define_value(p, "PIDTREE_LISTEN_KPROBE"), "1");
  EXPECT_EQ(p.find("PIDTREE_SOCK_STATE_HANDLERS"), std::string::npos);
  auto hooks = b.hooks();
  EXPECT_TRUE(has_hook(hooks, HookType::kKprobe, "net_listen_kprobe_entry"));
  EXPECT_TRUE(
      has_hook(hooks, HookType::kKretprobe, "net_listen_kprobe_return"));
  EXPECT_FALSE(has_hook(hooks, HookType::kCgroup, "net_listen_sock_ops"));
  EXPECT_TRUE(has_hook(hooks, HookType::kCgroup, "net_listen_post_bind6"));
  // The net_listen source comes before the kprobe half that calls into it.
  EXPECT_LT(p.find(bpf_source("net_listen.bpf.c")),
            p.find(bpf_source("net_listen_kprobe.bpf.c")));
}

TEST(NetListen, NeedsTheKernelsBtf) {
  Options o = parse_ok({"--probes", "net_listen"});
  ProbeSet probes(make_probes(o, nullptr, Backend::kTracepoint, 1));
  EXPECT_NE(probes.check(shape_for(Backend::kTracepoint, false))
                .find("net_listen reads sockets at offsets from the kernel's "
                      "BTF"),
            std::string::npos);
  EXPECT_EQ(probes.check(shape_for(Backend::kTracepoint, true)), "");
}

TEST(BuildProgram, ContainsSharedHeadersInOrder) {
  for (Backend b : {Backend::kKprobe, Backend::kTracepoint}) {
    std::string p = program_for(shape_for(b), {}).text();
    std::string event_h = bpf_source("event.h");
    ASSERT_NE(event_h.find("struct pidtree_connect_event {"),
              std::string::npos);
    size_t ev = p.find(event_h);
    EXPECT_NE(ev, std::string::npos) << backend_name(b);
    size_t common = p.find(bpf_source("common.bpf.h"));
    EXPECT_NE(common, std::string::npos) << backend_name(b);
    // Defines first, then the layouts, then the shared code, then probes.
    size_t def = p.find("#define PIDTREE_MAX_NET_RULES");
    EXPECT_LT(def, ev);
    EXPECT_LT(ev, common);
    size_t probe =
        p.find(b == Backend::kKprobe ? "int pidtree_v4_entry("
                                     : "void tcp_connect_on_sock_state(");
    EXPECT_LT(common, probe);
    EXPECT_EQ(define_value(p, "PIDTREE_AF_INET"), "2");
    EXPECT_EQ(define_value(p, "PIDTREE_AF_INET6"), "10");
  }
}

TEST(BuildProgram, DefinesFollowTheShape) {
  ProgramShape s;
  s.backend = Backend::kTracepoint;
  s.max_net_rules = 2048;
  std::string p = ProgramBuilder(s).text();
  EXPECT_EQ(define_value(p, "PIDTREE_MAX_NET_RULES"), "2048");
  EXPECT_EQ(define_value(p, "PIDTREE_ARGV_FROM_MEMORY"), "0");
  EXPECT_EQ(p.find("#define PIDTREE_TASK_MM"), std::string::npos);
  EXPECT_EQ(define_value(p, "PIDTREE_SOCK_FROM_BTF"), "0");
  EXPECT_EQ(p.find("#define PIDTREE_SKC_"), std::string::npos);
  EXPECT_EQ(define_value(p, "PIDTREE_NETNS_FROM_BTF"), "0");
  s.argv_offsets = ArgvOffsets{1136, 480, 488};
  s.sock_offsets = sock_offsets();
  s.socket_offsets = socket_offsets();
  p = ProgramBuilder(s).text();
  EXPECT_EQ(define_value(p, "PIDTREE_ARGV_FROM_MEMORY"), "1");
  EXPECT_EQ(define_value(p, "PIDTREE_TASK_MM"), "1136");
  EXPECT_EQ(define_value(p, "PIDTREE_MM_ARG_START"), "480");
  EXPECT_EQ(define_value(p, "PIDTREE_MM_ARG_END"), "488");
  EXPECT_EQ(define_value(p, "PIDTREE_SOCK_FROM_BTF"), "1");
  EXPECT_EQ(define_value(p, "PIDTREE_SK_PROTOCOL"), "532");
  EXPECT_EQ(define_value(p, "PIDTREE_SKC_HEAD"), "24");
  EXPECT_EQ(define_value(p, "PIDTREE_SKC_DADDR"), "0");
  EXPECT_EQ(define_value(p, "PIDTREE_SKC_RCV_SADDR"), "4");
  EXPECT_EQ(define_value(p, "PIDTREE_SKC_DPORT"), "12");
  EXPECT_EQ(define_value(p, "PIDTREE_SKC_NUM"), "14");
  EXPECT_EQ(define_value(p, "PIDTREE_SKC_FAMILY"), "16");
  EXPECT_EQ(define_value(p, "PIDTREE_SKC_V6_DADDR"), "56");
  EXPECT_EQ(define_value(p, "PIDTREE_SKC_V6_RCV_SADDR"), "72");
  EXPECT_EQ(define_value(p, "PIDTREE_NETNS_FROM_BTF"), "1");
  EXPECT_EQ(define_value(p, "PIDTREE_SKC_NET"), "48");
  EXPECT_EQ(define_value(p, "PIDTREE_SOCKET_SK"), "24");
  EXPECT_EQ(define_value(p, "PIDTREE_SKC_STATE"), "18");
}

TEST(BuildProgram, ProcessEventHooksComeFirst) {
  ProgramShape s = shape_for(Backend::kTracepoint);
  s.process_events = true;
  s.argv_offsets = ArgvOffsets{1136, 480, 488};
  auto hooks = program_for(s, {}).hooks();
  ASSERT_EQ(hooks.size(), 6u);
  EXPECT_EQ(hooks[0].target, "task:task_newtask");
  EXPECT_EQ(hooks[1].target, "sched:sched_process_exec");
  EXPECT_EQ(hooks[2].target, "sched:sched_process_exit");
  // Cgroups as they come and go, for the enrich stage's containers.
  EXPECT_EQ(hooks[3].target, "cgroup:cgroup_mkdir");
  EXPECT_EQ(hooks[4].target, "cgroup:cgroup_rmdir");
  EXPECT_EQ(hooks[5].target, "inet_sock_set_state");
  // Without argv offsets, the syscall tracepoints too.
  EXPECT_EQ(program_for(s, {}).hooks().size(), 6u);
  s.argv_offsets.reset();
  auto syscalls = program_for(s, {}).hooks();
  EXPECT_EQ(syscalls.size(), 13u);
  EXPECT_EQ(syscalls[0].target, "syscalls:sys_enter_execve");
}

TEST(BuildProgram, FiltersDoNotChangeTheProgram) {
  // Rules are data: whatever they are, the program is the same, so a
  // reload never needs a recompile.
  for (Backend b : {Backend::kKprobe, Backend::kTracepoint}) {
    ProgramShape s = shape_for(b);
    std::string p = program_for(s, {}).text();
    EXPECT_EQ(program_for(s, {"--no-default-filters", "--include-ports", "443"})
                  .text(),
              p);
    EXPECT_EQ(define_value(p, "PIDTREE_MAX_NET_RULES"),
              std::to_string(PIDTREE_FILTER_SLOTS * 2 * kMaxRulesPerSet));
  }
}

TEST(BuildProgram, NoUserTextReachesTheProgram) {
  const std::vector<std::string> user_values = {
      "198.51.100.77", "2001:db8:beef::", "31337", "40000-40009",
      "51.15.0.0",     "43210",           "evil"};
  const std::string rich_file =
      "tcp_connect:\n"
      "  filters:\n"
      "    - {subnet_name: evil, network: 198.51.100.77/32, "
      "except_ports: [31337]}\n"
      "net_listen:\n"
      "  protocols: [tcp, udp]\n"
      "  snapshot_periodicity: 43210\n"
      "  same_namespace_only: true\n"
      "  exclude_random_bind: true\n"
      "  filters:\n"
      "    - {subnet_name: evil2, network: 2001:db8:beef::/48}\n"
      "  excludeports: [40000-40009]\n";
  const std::string plain_file =
      "tcp_connect:\n  filters: []\n"
      "net_listen:\n  protocols: [tcp, udp]\n";
  for (Backend b : {Backend::kKprobe, Backend::kTracepoint}) {
    ProgramShape s = shape_for(b);
    std::string plain = program_for(s, {}, plain_file).text();
    std::string rich = program_for(s,
                                   {"--filter", "51.15.0.0/16", "-f",
                                    "/tmp/evil\n#include </etc/shadow>"},
                                   rich_file)
                           .text();
    for (const auto &v : user_values)
      EXPECT_EQ(rich.find(v), std::string::npos) << v;
    EXPECT_EQ(rich.find("shadow"), std::string::npos);
    // Line by line the two programs are the same: filters and settings are
    // map data only.
    EXPECT_EQ(lines_of(plain), lines_of(rich)) << backend_name(b);
  }
}

TEST(Embedded, EveryBpfFileIsEmbeddedAsItIs) {
  for (const char *f : {"event.h", "common.bpf.h", "sock.bpf.h",
                        "sock_state.bpf.c", "tcp_connect_kprobe.bpf.c",
                        "tcp_connect_tracepoint.bpf.c", "net_listen.bpf.c",
                        "net_listen_kprobe.bpf.c", "process_events.bpf.c"}) {
    ASSERT_NE(embedded_source(f), nullptr) << f;
    EXPECT_EQ(std::string(embedded_source(f)), bpf_source(f)) << f;
  }
  EXPECT_EQ(embedded_source("nope.bpf.c"), nullptr);
}

}  // namespace
}  // namespace pidtree
