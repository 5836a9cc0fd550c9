// Kernel struct offsets from the running kernel's BTF
// (/sys/kernel/btf/vmlinux), for the few fields a BPF program reads straight
// from kernel memory. Never from the headers BCC compiles against: those
// may be another kernel's (see docs/backends.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

struct btf;

namespace pidtree {

inline constexpr char kKernelBtf[] = "/sys/kernel/btf/vmlinux";

// Where a process's argv lies: task_struct.mm, then mm_struct.arg_start and
// arg_end (user addresses of the NUL-separated strings exec put on the new
// stack).
struct ArgvOffsets {
  uint32_t task_mm = 0;
  uint32_t mm_arg_start = 0;
  uint32_t mm_arg_end = 0;
};

// What the sock:inet_sock_set_state tracepoint reports about a socket, as
// byte offsets from the start of struct sock: the struct sock_common
// fields (addresses and ports in network order, except num, the local port
// in host order) and sk_protocol.
struct SockOffsets {
  uint32_t daddr = 0;         // skc_daddr, 4 bytes
  uint32_t rcv_saddr = 0;     // skc_rcv_saddr, 4 bytes
  uint32_t dport = 0;         // skc_dport, 2 bytes
  uint32_t num = 0;           // skc_num, 2 bytes
  uint32_t family = 0;        // skc_family, 2 bytes
  uint32_t v6_daddr = 0;      // skc_v6_daddr, 16 bytes
  uint32_t v6_rcv_saddr = 0;  // skc_v6_rcv_saddr, 16 bytes
  uint32_t protocol = 0;      // sk_protocol, 2 bytes (a bit field before 5.6)
  // The IPv4 fields, daddr to family, lie within the first `head` bytes,
  // which the program reads at once.
  uint32_t head = 0;
};
// What net_listen and udp_session read of a socket beyond its addresses:
// its network namespace (sock_common.skc_net, a struct net pointer, then
// net.ns.inum) and state; for the kprobes on inet_listen() the struct
// socket's sk, and on udp_sendmsg() the msghdr's msg_name.
struct SocketOffsets {
  uint32_t skc_net = 0;      // from the start of struct sock, 8 bytes
  uint32_t net_ns_inum = 0;  // from the start of struct net, 4 bytes
  uint32_t socket_sk = 0;    // from the start of struct socket, 8 bytes
  uint32_t skc_state = 0;    // from the start of struct sock, 1 byte
  uint32_t msghdr_name = 0;  // from the start of struct msghdr, 8 bytes
};

// The program reads the IPv4 fields with one copy of at most this much.
inline constexpr uint32_t kMaxSockHead = 64;

// One parse of a BTF file, asked for the offsets of each program that needs
// them. Every lookup fails, with the same reason, when the file could not
// be parsed.
class KernelBtf {
 public:
  explicit KernelBtf(const std::string &path);
  ~KernelBtf();
  KernelBtf(const KernelBtf &) = delete;
  KernelBtf &operator=(const KernelBtf &) = delete;

  // nullopt, with `why` set, when the file cannot be read or a field is
  // missing, a bit field, misaligned or not of the expected width.
  // Anonymous structs and unions are looked through.
  std::optional<ArgvOffsets> argv_offsets(std::string *why) const;
  std::optional<SockOffsets> sock_offsets(std::string *why) const;
  std::optional<SocketOffsets> socket_offsets(std::string *why) const;
  // task_struct.loginuid (a kuid_t, 4 bytes; only with CONFIG_AUDIT).
  std::optional<uint32_t> loginuid_offset(std::string *why) const;

 private:
  bool find(const char *type, const char *field, size_t size, uint32_t *out,
            std::string *why) const;

  ::btf *btf_ = nullptr;
  std::string error_;  // why the file could not be parsed
};

}  // namespace pidtree
