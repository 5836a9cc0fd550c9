#include "kernel/btf.h"

#include <bpf/btf.h>
#include <errno.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>

namespace pidtree {

namespace {

constexpr long kAbsent = -1;
constexpr long kWrongShape = -2;

// The byte offset of field `name` in struct `type_id`, searching anonymous
// members; kAbsent, or kWrongShape if it is a bit field, not `size` bytes
// or not aligned to its size (the program copies it from an aligned
// buffer). size 0: any size.
long field_offset(const btf *b, uint32_t type_id, const char *name, size_t size,
                  int depth = 0) {
  const btf_type *t = btf__type_by_id(b, type_id);
  if (!t || !btf_is_composite(t) || depth > 8)
    return kAbsent;
  const btf_member *m = btf_members(t);
  for (uint16_t i = 0; i < btf_vlen(t); ++i, ++m) {
    const char *member = btf__name_by_offset(b, m->name_off);
    uint32_t bits = btf_member_bit_offset(t, i);
    if (member && member[0] == '\0') {
      long inner =
          field_offset(b, btf__resolve_type(b, m->type), name, size, depth + 1);
      if (inner == kWrongShape)
        return kWrongShape;
      if (inner >= 0)
        return static_cast<long>(bits / 8) + inner;
      continue;
    }
    if (!member || std::strcmp(member, name) != 0)
      continue;
    long offset = static_cast<long>(bits / 8);
    if (btf_member_bitfield_size(t, i) != 0 || bits % 8 != 0)
      return kWrongShape;
    if (size != 0 &&
        (btf__resolve_size(b, m->type) != static_cast<long long>(size) ||
         offset % static_cast<long>(std::min<size_t>(size, 8)) != 0))
      return kWrongShape;
    return offset;
  }
  return kAbsent;
}

}  // namespace

KernelBtf::KernelBtf(const std::string &path) {
  btf_ = btf__parse(path.c_str(), nullptr);
  if (btf_)
    return;
  int err = errno;
  struct stat st {};
  // libbpf says EIO, EINVAL or EPROTO for a file that is there but not BTF.
  if (stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && err != EACCES &&
      err != EPERM && err != ENOMEM)
    error_ = path + " is not a valid BTF file";
  else
    error_ = "cannot read " + path + ": " + std::strerror(err);
}

KernelBtf::~KernelBtf() { btf__free(btf_); }

bool KernelBtf::find(const char *type, const char *field, size_t size,
                     uint32_t *out, std::string *why) const {
  if (!btf_) {
    *why = error_;
    return false;
  }
  int id = btf__find_by_name_kind(btf_, type, BTF_KIND_STRUCT);
  long off = id > 0 ? field_offset(btf_, static_cast<uint32_t>(id), field, size)
                    : kAbsent;
  if (off >= 0) {
    *out = static_cast<uint32_t>(off);
    return true;
  }
  if (id <= 0)
    *why = std::string("the kernel's BTF has no struct ") + type;
  else if (off == kAbsent)
    *why = std::string("struct ") + type + " has no field " + field +
           " in the kernel's BTF";
  else if (size == 0)
    *why =
        std::string(type) + "." + field + " is a bit field in the kernel's BTF";
  else
    *why = std::string(type) + "." + field + " is not an aligned " +
           std::to_string(size) + "-byte field in the kernel's BTF";
  return false;
}

std::optional<ArgvOffsets> KernelBtf::argv_offsets(std::string *why) const {
  ArgvOffsets o;
  if (find("task_struct", "mm", 8, &o.task_mm, why) &&
      find("mm_struct", "arg_start", 8, &o.mm_arg_start, why) &&
      find("mm_struct", "arg_end", 8, &o.mm_arg_end, why))
    return o;
  return std::nullopt;
}

std::optional<SockOffsets> KernelBtf::sock_offsets(std::string *why) const {
  SockOffsets o;
  uint32_t common = 0;
  if (!find("sock", "__sk_common", 0, &common, why) ||
      !find("sock_common", "skc_daddr", 4, &o.daddr, why) ||
      !find("sock_common", "skc_rcv_saddr", 4, &o.rcv_saddr, why) ||
      !find("sock_common", "skc_dport", 2, &o.dport, why) ||
      !find("sock_common", "skc_num", 2, &o.num, why) ||
      !find("sock_common", "skc_family", 2, &o.family, why) ||
      !find("sock_common", "skc_v6_daddr", 16, &o.v6_daddr, why) ||
      !find("sock_common", "skc_v6_rcv_saddr", 16, &o.v6_rcv_saddr, why) ||
      !find("sock", "sk_protocol", 2, &o.protocol, why))
    return std::nullopt;
  for (uint32_t *skc : {&o.daddr, &o.rcv_saddr, &o.dport, &o.num, &o.family,
                        &o.v6_daddr, &o.v6_rcv_saddr})
    *skc += common;
  if (common % 8 != 0) {
    *why = "struct sock.__sk_common is not 8-byte aligned in the kernel's BTF";
    return std::nullopt;
  }
  o.head = std::max(
      {o.daddr + 4, o.rcv_saddr + 4, o.dport + 2, o.num + 2, o.family + 2});
  o.head = (o.head + 7) & ~7u;  // whole words, copied to an aligned buffer
  if (o.head > kMaxSockHead) {
    *why = "the IPv4 fields of struct sock_common lie beyond its first " +
           std::to_string(kMaxSockHead) + " bytes in the kernel's BTF";
    return std::nullopt;
  }
  return o;
}

std::optional<uint32_t> KernelBtf::loginuid_offset(std::string *why) const {
  uint32_t off = 0;
  if (find("task_struct", "loginuid", 4, &off, why))
    return off;
  return std::nullopt;
}

std::optional<SocketOffsets> KernelBtf::socket_offsets(std::string *why) const {
  SocketOffsets o;
  uint32_t common = 0, ns = 0, inum = 0;
  if (!find("sock", "__sk_common", 0, &common, why) ||
      !find("sock_common", "skc_net", 8, &o.skc_net, why) ||
      !find("sock_common", "skc_state", 1, &o.skc_state, why) ||
      !find("net", "ns", 0, &ns, why) ||
      !find("ns_common", "inum", 4, &inum, why) ||
      !find("socket", "sk", 8, &o.socket_sk, why) ||
      !find("msghdr", "msg_name", 8, &o.msghdr_name, why))
    return std::nullopt;
  o.skc_net += common;
  o.skc_state += common;
  o.net_ns_inum = ns + inum;
  return o;
}

}  // namespace pidtree
