// Addresses, CIDRs and port specs: strict parsing, RFC 5952 formatting and
// one-line error messages that name the offending value.
#include "common/net.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pidtree {
namespace {

// The message of the InputError thrown by fn, or a failure if none is.
template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const InputError &e) {
    return e.what();
  }
  ADD_FAILURE() << "no InputError thrown";
  return "";
}

IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress addr;
  addr.family = Family::kIpv4;
  addr.bytes[0] = a;
  addr.bytes[1] = b;
  addr.bytes[2] = c;
  addr.bytes[3] = d;
  return addr;
}

// ---- parse_ip ---------------------------------------------------------------

TEST(ParseIp, Ipv4DottedQuad) {
  IpAddress a = parse_ip("192.168.1.254");
  EXPECT_EQ(a.family, Family::kIpv4);
  EXPECT_EQ(a.size(), 4u);
  EXPECT_EQ(a.max_prefix(), 32u);
  EXPECT_EQ(a, v4(192, 168, 1, 254));
  // The unused tail stays zero.
  for (size_t i = 4; i < 16; ++i)
    EXPECT_EQ(a.bytes[i], 0) << i;
  EXPECT_EQ(parse_ip("0.0.0.0"), v4(0, 0, 0, 0));
  EXPECT_EQ(parse_ip("255.255.255.255"), v4(255, 255, 255, 255));
}

TEST(ParseIp, Ipv6) {
  IpAddress a = parse_ip("2001:db8::ff00:42:8329");
  EXPECT_EQ(a.family, Family::kIpv6);
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(a.max_prefix(), 128u);
  const std::array<uint8_t, 16> want = {
      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0x42, 0x83, 0x29};
  EXPECT_EQ(a.bytes, want);

  IpAddress loop = parse_ip("::1");
  EXPECT_EQ(loop.family, Family::kIpv6);
  for (size_t i = 0; i < 15; ++i)
    EXPECT_EQ(loop.bytes[i], 0);
  EXPECT_EQ(loop.bytes[15], 1);

  // Upper case hex is the same address.
  EXPECT_EQ(parse_ip("FE80::1"), parse_ip("fe80::1"));
}

TEST(ParseIp, MappedIpv6StaysIpv6) {
  IpAddress a = parse_ip("::ffff:1.2.3.4");
  EXPECT_EQ(a.family, Family::kIpv6);
  EXPECT_EQ(a.bytes[10], 0xff);
  EXPECT_EQ(a.bytes[11], 0xff);
  EXPECT_EQ(a.bytes[12], 1);
  EXPECT_EQ(a.bytes[15], 4);
}

TEST(ParseIp, RejectsNamesScopesAndSloppyForms) {
  // glibc's inet_pton is strict: no names, no scopes, no surrounding spaces,
  // no short or octal-looking quads, no brackets.
  for (const char *bad :
       {"localhost", "example.com", "fe80::1%eth0", " 1.2.3.4", "1.2.3.4 ",
        "1.2.3", "01.2.3.4", "1.2.3.04", "0x1.2.3.4", "256.1.1.1", "1.2.3.4.5",
        "", "1::2::3", "[::1]", "::ffff:1.2.3", "::ffff:01.2.3.4",
        "1.2.3.4/8"}) {
    std::string msg = error_of([&] { parse_ip(bad); });
    EXPECT_NE(msg.find(std::string("'") + bad + "'"), std::string::npos)
        << "message must quote " << bad << ": " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(ParseIp, ErrorEscapesControlBytes) {
  std::string hostile = "1.2.3.4\n{\"forged\":1}\r\x01\x7f";
  std::string msg = error_of([&] { parse_ip(hostile); });
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\r'), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\x01'), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\x7f'), std::string::npos) << msg;
  EXPECT_NE(msg.find("1.2.3.4\\x0a"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\\x0d\\x01\\x7f"), std::string::npos) << msg;
}

TEST(ParseIp, ErrorTruncatesHugeInput) {
  std::string huge(100000, '9');
  std::string msg = error_of([&] { parse_ip(huge); });
  EXPECT_LT(msg.size(), 400u);
  EXPECT_NE(msg.find("..."), std::string::npos) << msg;
}

// ---- format_ip --------------------------------------------------------------

TEST(FormatIp, Ipv4) {
  EXPECT_EQ(format_ip(v4(10, 0, 0, 1)), "10.0.0.1");
  EXPECT_EQ(format_ip(v4(255, 255, 255, 255)), "255.255.255.255");
  EXPECT_EQ(format_ip(v4(0, 0, 0, 0)), "0.0.0.0");
  const uint8_t raw[4] = {8, 8, 4, 4};
  EXPECT_EQ(format_ip(Family::kIpv4, raw), "8.8.4.4");
}

TEST(FormatIp, Ipv4MatchesInetNtopForEveryOctetValue) {
  for (unsigned v = 0; v < 256; ++v) {
    const uint8_t raw[4] = {
        static_cast<uint8_t>(v), static_cast<uint8_t>(255 - v),
        static_cast<uint8_t>(v * 7), static_cast<uint8_t>(v / 3)};
    char want[INET_ADDRSTRLEN];
    ASSERT_NE(inet_ntop(AF_INET, raw, want, sizeof(want)), nullptr);
    EXPECT_EQ(format_ip(Family::kIpv4, raw), want) << v;
  }
}

TEST(FormatIp, Rfc5952) {
  struct Case {
    const char *in;
    const char *out;
  };
  for (const Case &c : std::vector<Case>{
           // Longest zero run compressed, first of equal runs.
           {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
           {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},
           // A single zero field is not compressed.
           {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},
           // Lower case, no leading zeros.
           {"2001:0DB8:0000:0000:0000:0000:0000:000A", "2001:db8::a"},
           {"0:0:0:0:0:0:0:0", "::"},
           {"0:0:0:0:0:0:0:1", "::1"},
           {"1:0:0:0:0:0:0:0", "1::"},
           {"fe80:0:0:0:0:0:0:1", "fe80::1"},
           // IPv4-mapped in mixed notation.
           {"::ffff:1.2.3.4", "::ffff:1.2.3.4"},
           {"0:0:0:0:0:ffff:0a01:0203", "::ffff:10.1.2.3"},
       }) {
    EXPECT_EQ(format_ip(parse_ip(c.in)), c.out) << c.in;
  }
}

TEST(FormatIp, RoundTripsThroughParse) {
  for (const char *text :
       {"1.2.3.4", "::", "::1", "2001:db8::1:0:0:1", "::ffff:8.8.8.8",
        "fe80::abcd:1234", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}) {
    EXPECT_EQ(format_ip(parse_ip(text)), text);
  }
}

// ---- parse_cidr -------------------------------------------------------------

TEST(ParseCidr, Ipv4Networks) {
  Cidr c = parse_cidr("10.0.0.0/8");
  EXPECT_EQ(c.network, v4(10, 0, 0, 0));
  EXPECT_EQ(c.prefix, 8u);
  EXPECT_EQ(format_cidr(c), "10.0.0.0/8");

  EXPECT_EQ(parse_cidr("0.0.0.0/0").prefix, 0u);
  EXPECT_EQ(parse_cidr("172.16.0.0/12").prefix, 12u);
  EXPECT_EQ(parse_cidr("1.2.3.4/32").prefix, 32u);
  // Surrounding space is trimmed.
  EXPECT_EQ(parse_cidr("  192.168.0.0/16\t"), parse_cidr("192.168.0.0/16"));
}

TEST(ParseCidr, Ipv6Networks) {
  Cidr c = parse_cidr("2001:db8::/32");
  EXPECT_EQ(c.network.family, Family::kIpv6);
  EXPECT_EQ(c.prefix, 32u);
  EXPECT_EQ(format_cidr(c), "2001:db8::/32");
  EXPECT_EQ(parse_cidr("::/0").prefix, 0u);
  EXPECT_EQ(parse_cidr("fc00::/7").prefix, 7u);
  EXPECT_EQ(parse_cidr("::1/128").prefix, 128u);
}

TEST(ParseCidr, BareAddressIsAHost) {
  Cidr c4 = parse_cidr("8.8.8.8");
  EXPECT_EQ(c4.prefix, 32u);
  EXPECT_EQ(c4.network, v4(8, 8, 8, 8));
  Cidr c6 = parse_cidr("2001:db8::1");
  EXPECT_EQ(c6.prefix, 128u);
  EXPECT_EQ(c6.network, parse_ip("2001:db8::1"));
}

TEST(ParseCidr, PrefixBounds) {
  std::string m4 = error_of([] { parse_cidr("0.0.0.0/33"); });
  EXPECT_NE(m4.find("'0.0.0.0/33'"), std::string::npos) << m4;
  EXPECT_NE(m4.find("0-32"), std::string::npos) << m4;
  std::string m6 = error_of([] { parse_cidr("::/129"); });
  EXPECT_NE(m6.find("'::/129'"), std::string::npos) << m6;
  EXPECT_NE(m6.find("0-128"), std::string::npos) << m6;
  // 33..128 is fine for IPv6.
  EXPECT_EQ(parse_cidr("2001:db8::/64").prefix, 64u);
}

TEST(ParseCidr, HostBitsSetSuggestsNetwork) {
  std::string m = error_of([] { parse_cidr("10.1.2.3/8"); });
  EXPECT_NE(m.find("'10.1.2.3/8'"), std::string::npos) << m;
  EXPECT_NE(m.find("host bits"), std::string::npos) << m;
  EXPECT_NE(m.find("did you mean 10.0.0.0/8"), std::string::npos) << m;

  std::string m2 = error_of([] { parse_cidr("192.168.1.1/23"); });
  EXPECT_NE(m2.find("did you mean 192.168.0.0/23"), std::string::npos) << m2;

  std::string m6 = error_of([] { parse_cidr("2001:db8::1/32"); });
  EXPECT_NE(m6.find("did you mean 2001:db8::/32"), std::string::npos) << m6;

  std::string m0 = error_of([] { parse_cidr("1.2.3.4/0"); });
  EXPECT_NE(m0.find("did you mean 0.0.0.0/0"), std::string::npos) << m0;
}

TEST(ParseCidr, RejectsJunk) {
  for (const char *bad :
       {"10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/08x", "10.0.0.0/+8", "/8", "/",
        "", "10.0.0.0/8/8", "10.0.0.0/ 8x", "10.0.0.0/99999999999",
        "10.0.0.0/4294967304", "10.0.0.0/0x8", "10.0.0/8", "host.example/8",
        "fe80::%eth0/64", "10.0.0.0 /8"}) {
    std::string m = error_of([&] { parse_cidr(bad); });
    EXPECT_EQ(m.rfind("invalid network '", 0), 0u) << bad << ": " << m;
    EXPECT_NE(m.find(std::string("'") + bad + "'"), std::string::npos)
        << bad << ": " << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST(ParseCidr, HugePrefixDoesNotWrap) {
  // 2^32 + 8 must not wrap to /8.
  EXPECT_THROW(parse_cidr("10.0.0.0/4294967304"), InputError);
  EXPECT_THROW(parse_cidr("10.0.0.0/18446744073709551624"), InputError);
  EXPECT_THROW(parse_cidr("::/4294967424"), InputError);
}

TEST(ParseCidr, ErrorIsOneLineWithControlBytes) {
  for (const std::string &bad :
       {std::string("10.0.0.0/8\n{\"probe\":\"x\"}"), std::string("\n"),
        std::string("10.0.0.0/\r\n8"), std::string("10.1.0.0/8\x1b[2J"),
        std::string("1.2.3.4/8\n")}) {
    std::string m = error_of([&] { parse_cidr(bad); });
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    EXPECT_EQ(m.find('\r'), std::string::npos) << m;
    EXPECT_EQ(m.find('\x1b'), std::string::npos) << m;
  }
  // A trailing newline is just whitespace around a valid network.
  EXPECT_EQ(parse_cidr("10.0.0.0/8\n").prefix, 8u);
}

TEST(Cidr, Contains) {
  Cidr ten = parse_cidr("10.0.0.0/8");
  EXPECT_TRUE(ten.contains(parse_ip("10.0.0.0")));
  EXPECT_TRUE(ten.contains(parse_ip("10.255.255.255")));
  EXPECT_FALSE(ten.contains(parse_ip("11.0.0.0")));
  EXPECT_FALSE(ten.contains(parse_ip("9.255.255.255")));

  Cidr odd = parse_cidr("172.16.0.0/12");
  EXPECT_TRUE(odd.contains(parse_ip("172.31.255.255")));
  EXPECT_FALSE(odd.contains(parse_ip("172.32.0.0")));
  EXPECT_FALSE(odd.contains(parse_ip("172.15.255.255")));

  Cidr host = parse_cidr("1.2.3.4");
  EXPECT_TRUE(host.contains(parse_ip("1.2.3.4")));
  EXPECT_FALSE(host.contains(parse_ip("1.2.3.5")));

  Cidr ula = parse_cidr("fc00::/7");
  EXPECT_TRUE(ula.contains(parse_ip("fd12:3456::1")));
  EXPECT_FALSE(ula.contains(parse_ip("fe00::1")));
}

TEST(Cidr, ZeroPrefixMatchesWholeFamilyOnly) {
  Cidr all4 = parse_cidr("0.0.0.0/0");
  EXPECT_TRUE(all4.contains(parse_ip("1.2.3.4")));
  EXPECT_TRUE(all4.contains(parse_ip("255.255.255.255")));
  EXPECT_FALSE(all4.contains(parse_ip("::")));
  EXPECT_FALSE(all4.contains(parse_ip("::ffff:1.2.3.4")));

  Cidr all6 = parse_cidr("::/0");
  EXPECT_TRUE(all6.contains(parse_ip("2001:db8::1")));
  EXPECT_TRUE(all6.contains(parse_ip("::ffff:1.2.3.4")));
  EXPECT_FALSE(all6.contains(parse_ip("0.0.0.0")));
  EXPECT_FALSE(all6.contains(parse_ip("1.2.3.4")));
}

TEST(Cidr, FamilyMismatchNeverMatches) {
  // Same leading bytes, different family.
  EXPECT_FALSE(parse_cidr("0.0.0.0/8").contains(parse_ip("::1")));
  EXPECT_FALSE(parse_cidr("::/8").contains(parse_ip("0.1.2.3")));
}

TEST(MaskAddress, ClearsHostBits) {
  EXPECT_EQ(mask_address(parse_ip("192.168.255.255"), 17),
            parse_ip("192.168.128.0"));
  EXPECT_EQ(mask_address(parse_ip("255.255.255.255"), 0), parse_ip("0.0.0.0"));
  EXPECT_EQ(mask_address(parse_ip("255.255.255.255"), 32),
            parse_ip("255.255.255.255"));
  EXPECT_EQ(mask_address(parse_ip("2001:db8:ffff::1"), 33),
            parse_ip("2001:db8:8000::"));
  EXPECT_EQ(mask_address(parse_ip("ffff::ffff"), 127), parse_ip("ffff::fffe"));
}

// ---- ports ------------------------------------------------------------------

TEST(ParsePortRange, SingleAndRange) {
  PortRange p = parse_port_range("443");
  EXPECT_EQ(p.first, 443);
  EXPECT_EQ(p.last, 443);
  PortRange r = parse_port_range("8000-9000");
  EXPECT_EQ(r.first, 8000);
  EXPECT_EQ(r.last, 9000);
  PortRange all = parse_port_range("0-65535");
  EXPECT_EQ(all.first, 0);
  EXPECT_EQ(all.last, 65535);
  PortRange one = parse_port_range(" 80 - 80 ");
  EXPECT_EQ(one.first, 80);
  EXPECT_EQ(one.last, 80);
}

TEST(ParsePortRange, Rejects) {
  for (const char *bad :
       {"", "-1", "65536", "+80", "0x50", "80-", "-80", "1-2-3", "8o",
        "99999999999", "4294967376", "80 81", "1e3", "-"}) {
    std::string m = error_of([&] { parse_port_range(bad); });
    EXPECT_NE(m.find(std::string("'") + bad + "'"), std::string::npos)
        << bad << ": " << m;
    EXPECT_EQ(m.find('\n'), std::string::npos);
  }
  std::string m = error_of([] { parse_port_range("9000-8000"); });
  EXPECT_NE(m.find("'9000-8000'"), std::string::npos) << m;
  EXPECT_NE(m.find("first port is above the last"), std::string::npos) << m;
}

TEST(ParsePortSpec, ListOfPortsAndRanges) {
  std::vector<PortRange> r = parse_port_spec("22,80,8000-9000");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].first, 22);
  EXPECT_EQ(r[0].last, 22);
  EXPECT_EQ(r[1].first, 80);
  EXPECT_EQ(r[1].last, 80);
  EXPECT_EQ(r[2].first, 8000);
  EXPECT_EQ(r[2].last, 9000);
}

TEST(ParsePortSpec, SpacesAroundItems) {
  std::vector<PortRange> r = parse_port_spec(" 22 ,\t80 , 8000 - 9000 ");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].first, 22);
  EXPECT_EQ(r[1].first, 80);
  EXPECT_EQ(r[2].first, 8000);
  EXPECT_EQ(r[2].last, 9000);
}

TEST(ParsePortSpec, EmptyItems) {
  for (const char *bad : {",", "80,", ",80", "80,,443", "", " ", "80, ,443"}) {
    std::string m = error_of([&] { parse_port_spec(bad); });
    EXPECT_NE(m.find("empty item"), std::string::npos) << bad << ": " << m;
    EXPECT_NE(m.find(std::string("'") + bad + "'"), std::string::npos) << m;
  }
}

TEST(ParsePortSpec, BadItemsNameTheItem) {
  struct Case {
    const char *spec;
    const char *item;
  };
  for (const Case &c : std::vector<Case>{{"22,-1", "-1"},
                                         {"65536", "65536"},
                                         {"80,9000-8000", "9000-8000"},
                                         {"+80", "+80"},
                                         {"443,0x50", "0x50"}}) {
    std::string m = error_of([&] { parse_port_spec(c.spec); });
    EXPECT_NE(m.find(c.item), std::string::npos) << c.spec << ": " << m;
    EXPECT_EQ(m.find('\n'), std::string::npos);
  }
}

TEST(ParsePortSpec, VeryLongInput) {
  // 20k valid items parse.
  std::string many;
  for (int i = 0; i < 20000; ++i)
    many += (i ? "," : "") + std::to_string(i);
  EXPECT_EQ(parse_port_spec(many).size(), 20000u);

  // A long bad input gives a bounded, single-line message.
  std::string junk(200000, '1');
  std::string m = error_of([&] { parse_port_spec(junk); });
  EXPECT_LT(m.size(), 600u);
  EXPECT_EQ(m.find('\n'), std::string::npos);

  std::string with_nl = many + ",\n";
  std::string m2 = error_of([&] { parse_port_spec(with_nl); });
  EXPECT_LT(m2.size(), 600u);
  EXPECT_EQ(m2.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace pidtree

namespace pidtree {
namespace {

TEST(ParseCidr, PrefixWithLeadingZeroIsRejected) {
  EXPECT_NE(error_of([] { parse_cidr("10.0.0.0/08"); }).find("10.0.0.0/08"),
            std::string::npos);
  EXPECT_EQ(parse_cidr("0.0.0.0/0").prefix, 0u);
}

TEST(ParseCidr, MappedIpv6NetworkAsksForTheIpv4One) {
  std::string err = error_of([] { parse_cidr("::ffff:10.0.0.0/104"); });
  EXPECT_NE(err.find("use 10.0.0.0/8"), std::string::npos) << err;
  err = error_of([] { parse_cidr("::ffff:0:0/96"); });
  EXPECT_NE(err.find("use 0.0.0.0/0"), std::string::npos) << err;
  // Wider v6 networks that merely contain the mapped range are allowed.
  EXPECT_EQ(parse_cidr("::/0").prefix, 0u);
}

TEST(UrlScheme, InAnyCaseFollowedByColonSlashSlash) {
  EXPECT_TRUE(has_url_scheme("https://h/x", "https"));
  EXPECT_TRUE(has_url_scheme("HTTPS://h/x", "https"));
  EXPECT_TRUE(has_url_scheme("hTtP://h", "http"));
  EXPECT_FALSE(has_url_scheme("https://h", "http"));
  EXPECT_FALSE(has_url_scheme("http://h", "https"));
  EXPECT_FALSE(has_url_scheme("https:/h", "https"));
  EXPECT_FALSE(has_url_scheme("https://", "https"));  // no host
  EXPECT_FALSE(has_url_scheme("ftp://h", "http"));
}

TEST(Printable, EscapesControlBytesAndCuts) {
  EXPECT_EQ(printable("a\rb\x1b"), "a\\x0db\\x1b");
  EXPECT_EQ(printable(std::string(300, 'x')), std::string(200, 'x') + "...");
}

}  // namespace
}  // namespace pidtree
