// Decoding raw perf-buffer records into ConnectEvent.
#include "probes/events.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "event.h"

namespace pidtree {
namespace {

pidtree_connect_event v4_record() {
  pidtree_connect_event raw;
  std::memset(&raw, 0, sizeof(raw));
  raw.ts_boot_ns = 123456789012345ULL;
  raw.kind = PIDTREE_EVENT_TCP_CONNECT;
  raw.pid = 4242;
  raw.tid = 4243;
  raw.uid = 1000;
  raw.family = 2;
  raw.dport = 443;
  raw.sport = 51234;
  const uint8_t s[4] = {192, 168, 1, 10};
  const uint8_t d[4] = {93, 184, 216, 34};
  std::memcpy(raw.saddr, s, 4);
  std::memcpy(raw.daddr, d, 4);
  std::strcpy(raw.comm, "curl");
  return raw;
}

pidtree_connect_event v6_record() {
  pidtree_connect_event raw = v4_record();
  raw.family = 10;
  raw.dport = 80;
  raw.sport = 0;
  IpAddress s = parse_ip("2001:db8::10");
  IpAddress d = parse_ip("2606:2800:220:1:248:1893:25c8:1946");
  std::memcpy(raw.saddr, s.bytes.data(), 16);
  std::memcpy(raw.daddr, d.bytes.data(), 16);
  std::strcpy(raw.comm, "wget");
  return raw;
}

TEST(Decode, LayoutIsStable) {
  // The kernel writes this struct; a layout change must be deliberate.
  EXPECT_EQ(sizeof(pidtree_connect_event), 96u);
  EXPECT_EQ(offsetof(pidtree_connect_event, kind), 8u);
  EXPECT_EQ(offsetof(pidtree_connect_event, family), 24u);
  EXPECT_EQ(offsetof(pidtree_connect_event, saddr), 32u);
  EXPECT_EQ(offsetof(pidtree_connect_event, daddr), 48u);
  EXPECT_EQ(offsetof(pidtree_connect_event, comm), 64u);
  EXPECT_EQ(offsetof(pidtree_connect_event, loginuid), 80u);
  EXPECT_EQ(offsetof(pidtree_connect_event, cgroup_id), 88u);
}

TEST(Decode, Ipv4RoundTrip) {
  pidtree_connect_event raw = v4_record();
  auto ev = decode_connect_event(&raw, sizeof(raw));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->ts_boot_ns, 123456789012345ULL);
  EXPECT_EQ(ev->pid, 4242u);
  EXPECT_EQ(ev->tid, 4243u);
  EXPECT_EQ(ev->uid, 1000u);
  EXPECT_EQ(ev->family, Family::kIpv4);
  EXPECT_EQ(ev->saddr.family, Family::kIpv4);
  EXPECT_EQ(ev->daddr.family, Family::kIpv4);
  EXPECT_EQ(format_ip(ev->saddr), "192.168.1.10");
  EXPECT_EQ(format_ip(ev->daddr), "93.184.216.34");
  EXPECT_EQ(ev->daddr, parse_ip("93.184.216.34"));
  EXPECT_EQ(ev->sport, 51234);
  EXPECT_EQ(ev->dport, 443);
  EXPECT_EQ(ev->comm, "curl");
}

TEST(Decode, Ipv4IgnoresBytesPastTheAddress) {
  // Garbage after the first 4 bytes must not leak into the IPv4 address.
  pidtree_connect_event raw = v4_record();
  std::memset(raw.daddr + 4, 0xaa, 12);
  std::memset(raw.saddr + 4, 0xbb, 12);
  auto ev = decode_connect_event(&raw, sizeof(raw));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->daddr, parse_ip("93.184.216.34"));
  EXPECT_EQ(ev->saddr, parse_ip("192.168.1.10"));
}

TEST(Decode, Ipv6RoundTrip) {
  pidtree_connect_event raw = v6_record();
  auto ev = decode_connect_event(&raw, sizeof(raw));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->family, Family::kIpv6);
  EXPECT_EQ(ev->saddr.family, Family::kIpv6);
  EXPECT_EQ(ev->daddr.family, Family::kIpv6);
  EXPECT_EQ(format_ip(ev->saddr), "2001:db8::10");
  EXPECT_EQ(format_ip(ev->daddr), "2606:2800:220:1:248:1893:25c8:1946");
  EXPECT_EQ(ev->dport, 80);
  EXPECT_EQ(ev->sport, 0);
  EXPECT_EQ(ev->comm, "wget");
}

TEST(Decode, PaddedRecordIsAccepted) {
  // Perf pads records; extra trailing bytes are fine.
  std::vector<uint8_t> buf(sizeof(pidtree_connect_event) + 4, 0xee);
  pidtree_connect_event raw = v4_record();
  std::memcpy(buf.data(), &raw, sizeof(raw));
  auto ev = decode_connect_event(buf.data(), buf.size());
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->pid, 4242u);
}

TEST(Decode, UnalignedBuffer) {
  std::vector<uint8_t> buf(sizeof(pidtree_connect_event) + 1);
  pidtree_connect_event raw = v6_record();
  std::memcpy(buf.data() + 1, &raw, sizeof(raw));
  auto ev = decode_connect_event(buf.data() + 1, sizeof(raw));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->ts_boot_ns, 123456789012345ULL);
  EXPECT_EQ(format_ip(ev->daddr), "2606:2800:220:1:248:1893:25c8:1946");
}

TEST(Decode, TooShort) {
  pidtree_connect_event raw = v4_record();
  EXPECT_FALSE(decode_connect_event(&raw, sizeof(raw) - 1).has_value());
  EXPECT_FALSE(decode_connect_event(&raw, 0).has_value());
  EXPECT_FALSE(decode_connect_event(&raw, 8).has_value());
  EXPECT_FALSE(decode_connect_event(nullptr, sizeof(raw)).has_value());
  EXPECT_TRUE(decode_connect_event(&raw, sizeof(raw)).has_value());
}

TEST(Decode, WrongKind) {
  for (uint32_t kind : {0u, 2u, 0xffffffffu}) {
    pidtree_connect_event raw = v4_record();
    raw.kind = kind;
    EXPECT_FALSE(decode_connect_event(&raw, sizeof(raw)).has_value()) << kind;
  }
}

TEST(Decode, BadFamily) {
  for (uint16_t family : {0, 1, 3, 9, 11, 17, 0xffff}) {
    pidtree_connect_event raw = v4_record();
    raw.family = family;
    EXPECT_FALSE(decode_connect_event(&raw, sizeof(raw)).has_value()) << family;
  }
}

TEST(Decode, CommWithoutNulTerminator) {
  pidtree_connect_event raw = v4_record();
  std::memcpy(raw.comm, "0123456789abcdef", PIDTREE_COMM_LEN);  // no NUL
  // The next bytes in memory are not part of comm.
  std::vector<uint8_t> buf(sizeof(raw) + 16, 'X');
  std::memcpy(buf.data(), &raw, sizeof(raw));
  auto ev = decode_connect_event(buf.data(), buf.size());
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->comm, "0123456789abcdef");
  EXPECT_EQ(ev->comm.size(), 16u);
}

TEST(Decode, CommStopsAtFirstNul) {
  pidtree_connect_event raw = v4_record();
  std::memcpy(raw.comm, "ab\0cdefghijklmn", PIDTREE_COMM_LEN);
  auto ev = decode_connect_event(&raw, sizeof(raw));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->comm, "ab");
}

TEST(Decode, CommKeepsHostileBytes) {
  // Decoding does not sanitise; the JSON layer escapes.
  pidtree_connect_event raw = v4_record();
  std::memcpy(raw.comm, "a\nb\"c\\\x01\xff", 9);
  raw.comm[9] = 0;
  auto ev = decode_connect_event(&raw, sizeof(raw));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->comm, std::string("a\nb\"c\\\x01\xff"));
}

}  // namespace
}  // namespace pidtree
