// The generated BPF program: right backend, right defines, shared layouts,
// and no user-supplied text.
#include "kernel/program.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "config/options.h"

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
  std::regex re("(^|\n)#define " + name + " ([^\n]*)\n");
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

TEST(ShapeFor, FiltersDoNotChangeTheProgram) {
  // Rules are data: whatever they are, the program is the same, so a reload
  // never needs a recompile.
  FilterConfig none;
  FilterConfig nets;
  nets.rules = default_rules();
  FilterConfig inc;
  inc.port_mode = PortMode::kInclude;
  inc.ports = parse_port_spec("443");
  ProgramShape s = shape_for(Backend::kKprobe, none);
  EXPECT_EQ(s.backend, Backend::kKprobe);
  EXPECT_EQ(s.max_net_rules, 2 * kMaxRulesPerSet);
  std::string p = build_program(s);
  EXPECT_EQ(build_program(shape_for(Backend::kKprobe, nets)), p);
  EXPECT_EQ(build_program(shape_for(Backend::kKprobe, inc)), p);
  EXPECT_EQ(shape_for(Backend::kTracepoint, nets).backend,
            Backend::kTracepoint);
}

TEST(ShapeFor, ManyNetworksGrowTheMaps) {
  FilterConfig c;
  for (unsigned i = 0; i < kMaxRulesPerSet + 100; ++i)
    c.rules.push_back(NetRule{parse_cidr("10." + std::to_string(i / 256) + "." +
                                         std::to_string(i % 256) + ".0/24"),
                              RulePorts::kAll,
                              {}});
  ProgramShape s = shape_for(Backend::kKprobe, c);
  EXPECT_EQ(s.max_net_rules, 2 * (kMaxRulesPerSet + 100));
  // The maps are sized from the shape.
  std::string p = build_program(s);
  EXPECT_EQ(define_value(p, "PIDTREE_MAX_NET_RULES"),
            std::to_string(2 * (kMaxRulesPerSet + 100)));
}

TEST(BuildProgram, KprobeBackend) {
  ProgramShape s;
  s.backend = Backend::kKprobe;
  std::string p = build_program(s);
  EXPECT_NE(p.find("int pidtree_v4_entry("), std::string::npos);
  EXPECT_NE(p.find("int pidtree_v6_entry("), std::string::npos);
  EXPECT_NE(p.find("int pidtree_return("), std::string::npos);
  EXPECT_EQ(p.find("TRACEPOINT_PROBE"), std::string::npos);
  EXPECT_NE(p.find(bpf_source("tcp_connect_kprobe.bpf.c")), std::string::npos);
  EXPECT_NE(p.find("kprobe backend"), std::string::npos) << p.substr(0, 200);
}

TEST(BuildProgram, TracepointBackend) {
  ProgramShape s;
  s.backend = Backend::kTracepoint;
  std::string p = build_program(s);
  EXPECT_NE(p.find("TRACEPOINT_PROBE(sock, inet_sock_set_state)"),
            std::string::npos);
  EXPECT_EQ(p.find("pidtree_v4_entry"), std::string::npos);
  EXPECT_EQ(p.find("pidtree_return"), std::string::npos);
  EXPECT_NE(p.find(bpf_source("tcp_connect_tracepoint.bpf.c")),
            std::string::npos);
}

TEST(BuildProgram, ContainsSharedHeaders) {
  for (Backend b : {Backend::kKprobe, Backend::kTracepoint}) {
    ProgramShape s;
    s.backend = b;
    std::string p = build_program(s);
    std::string event_h = bpf_source("event.h");
    ASSERT_NE(event_h.find("struct pidtree_connect_event {"),
              std::string::npos);
    size_t ev = p.find(event_h);
    EXPECT_NE(ev, std::string::npos) << backend_name(b);
    size_t filt = p.find(bpf_source("filters.bpf.h"));
    EXPECT_NE(filt, std::string::npos) << backend_name(b);
    // Defines first, then the layouts, then the filters, then the backend.
    size_t def = p.find("#define PIDTREE_MAX_NET_RULES");
    EXPECT_LT(def, ev);
    EXPECT_LT(ev, filt);
    size_t backend = p.find(b == Backend::kKprobe ? "pidtree_v4_entry"
                                                  : "TRACEPOINT_PROBE(");
    EXPECT_LT(filt, backend);
    // The constants the BPF side uses are defined.
    EXPECT_EQ(define_value(p, "PIDTREE_AF_INET"), "2");
    EXPECT_EQ(define_value(p, "PIDTREE_AF_INET6"), "10");
  }
}

TEST(BuildProgram, DefinesFollowTheShape) {
  ProgramShape s;
  s.backend = Backend::kTracepoint;
  s.max_net_rules = 2048;
  std::string p = build_program(s);
  EXPECT_EQ(define_value(p, "PIDTREE_MAX_NET_RULES"), "2048");
  EXPECT_EQ(p.find("PIDTREE_NET_FILTER"), std::string::npos);
  EXPECT_EQ(define_value(p, "PIDTREE_ARGV_FROM_MEMORY"), "0");
  EXPECT_EQ(p.find("#define PIDTREE_TASK_MM"), std::string::npos);
  s.argv_offsets = ArgvOffsets{1136, 480, 488};
  p = build_program(s);
  EXPECT_EQ(define_value(p, "PIDTREE_ARGV_FROM_MEMORY"), "1");
  EXPECT_EQ(define_value(p, "PIDTREE_TASK_MM"), "1136");
  EXPECT_EQ(define_value(p, "PIDTREE_MM_ARG_START"), "480");
  EXPECT_EQ(define_value(p, "PIDTREE_MM_ARG_END"), "488");
}

TEST(BuildProgram, SockOffsetsMakeTheTracepointRaw) {
  ProgramShape s;
  s.backend = Backend::kTracepoint;
  std::string p = build_program(s);
  EXPECT_EQ(define_value(p, "PIDTREE_SOCK_FROM_BTF"), "0");
  EXPECT_EQ(p.find("#define PIDTREE_SKC_"), std::string::npos);
  SockOffsets o;
  o.daddr = 0, o.rcv_saddr = 4, o.dport = 12, o.num = 14, o.family = 16;
  o.v6_daddr = 56, o.v6_rcv_saddr = 72, o.protocol = 532, o.head = 24;
  s.sock_offsets = o;
  p = build_program(s);
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
  // Both probes are in the source; the define picks one.
  EXPECT_NE(p.find("RAW_TRACEPOINT_PROBE(inet_sock_set_state)"),
            std::string::npos);
  // The kprobe backend reads the socket its own way.
  s.backend = Backend::kKprobe;
  p = build_program(s);
  EXPECT_EQ(define_value(p, "PIDTREE_SOCK_FROM_BTF"), "0");
  EXPECT_EQ(p.find("#define PIDTREE_SKC_"), std::string::npos);
}

TEST(BuildProgram, FromParsedOptions) {
  Options o = parse_ok({});
  std::string p = build_program(shape_for(Backend::kKprobe, o.filters));
  EXPECT_EQ(define_value(p, "PIDTREE_MAX_NET_RULES"),
            std::to_string(2 * kMaxRulesPerSet));
  o = parse_ok({"--no-default-filters", "--include-ports", "443"});
  EXPECT_EQ(build_program(shape_for(Backend::kKprobe, o.filters)), p);
}

TEST(BuildProgram, NoUserTextReachesTheProgram) {
  const std::vector<std::string> user_values = {
      "198.51.100.77", "2001:db8:beef::", "31337", "40000-40009", "51.15.0.0"};
  for (Backend b : {Backend::kKprobe, Backend::kTracepoint}) {
    Options plain = parse_ok({"--no-default-filters", "--filter", "1.0.0.0/8"});
    Options rich = parse_ok({"--filter", "198.51.100.77/32", "--filter",
                             "2001:db8:beef::/48", "--filter", "51.15.0.0/16",
                             "--exclude-ports", "31337,40000-40009", "-f",
                             "/tmp/evil\n#include </etc/shadow>"});
    std::string a = build_program(shape_for(b, plain.filters));
    std::string c = build_program(shape_for(b, rich.filters));
    for (const auto &v : user_values)
      EXPECT_EQ(c.find(v), std::string::npos) << v;
    EXPECT_EQ(c.find("shadow"), std::string::npos);
    EXPECT_EQ(c.find("/tmp/evil"), std::string::npos);

    // Line by line the two programs differ only in PIDTREE_* numbers.
    std::vector<std::string> la = lines_of(a), lc = lines_of(c);
    ASSERT_EQ(la.size(), lc.size());
    int differing = 0;
    std::regex numeric_define("#define PIDTREE_[A-Z0-9_]+ [0-9]+");
    for (size_t i = 0; i < la.size(); ++i) {
      if (la[i] == lc[i])
        continue;
      ++differing;
      EXPECT_TRUE(std::regex_match(la[i], numeric_define)) << la[i];
      EXPECT_TRUE(std::regex_match(lc[i], numeric_define)) << lc[i];
    }
    EXPECT_EQ(differing, 0);  // filters are map data only
  }
}

TEST(BuildProgram, ManyFiltersOnlyChangeSizes) {
  // 600 networks double the map size and change nothing else.
  std::vector<std::string> args = {"--no-default-filters"};
  for (int i = 0; i < 600; ++i) {
    args.push_back("--filter");
    args.push_back("100." + std::to_string(i / 200) + "." +
                   std::to_string(i % 200) + ".0/24");
  }
  Options many = parse_ok(args);
  ASSERT_EQ(many.filters.rules.size(), 600u);
  Options one = parse_ok({"--no-default-filters", "--filter", "1.0.0.0/8"});
  std::string a = build_program(shape_for(Backend::kKprobe, one.filters));
  std::string c = build_program(shape_for(Backend::kKprobe, many.filters));
  EXPECT_EQ(define_value(c, "PIDTREE_MAX_NET_RULES"),
            std::to_string(2 * kMaxRulesPerSet));
  std::vector<std::string> la = lines_of(a), lc = lines_of(c);
  ASSERT_EQ(la.size(), lc.size());
  for (size_t i = 0; i < la.size(); ++i) {
    if (la[i] != lc[i]) {
      EXPECT_EQ(la[i].rfind("#define PIDTREE_MAX_NET_RULES ", 0), 0u) << la[i];
    }
  }
}

}  // namespace
}  // namespace pidtree
