/* The seed of fuzz_btf: the few kernel types the tracer looks up, laid out
 * as in a 6.x kernel (anonymous unions included), compiled to BTF with
 *   clang -target bpf -g -c mini_vmlinux.c -o /tmp/mini.o
 *   llvm-objcopy --dump-section .BTF=corpus/btf/mini_vmlinux /tmp/mini.o
 */
typedef unsigned int __u32;
typedef unsigned short __u16;
typedef unsigned char __u8;
typedef struct { __u32 val; } kuid_t;
struct in6_addr { __u8 s6_addr[16]; };
struct ns_common { void *stashed; __u32 inum; };
struct net { int passive; struct ns_common ns; };
struct sock_common {
  union {
    unsigned long long skc_addrpair;
    struct { __u32 skc_daddr; __u32 skc_rcv_saddr; };
  };
  unsigned int skc_hash;
  union {
    __u32 skc_portpair;
    struct { __u16 skc_dport; __u16 skc_num; };
  };
  unsigned short skc_family;
  volatile unsigned char skc_state;
  struct net *skc_net;
  struct in6_addr skc_v6_daddr;
  struct in6_addr skc_v6_rcv_saddr;
};
struct sock { struct sock_common __sk_common; int pad; __u16 sk_protocol; };
struct socket { int state; short type; void *file; struct sock *sk; };
struct msghdr { void *msg_name; int msg_namelen; };
struct mm_struct { unsigned long pad[40]; unsigned long arg_start, arg_end; };
struct task_struct { long state; void *stack; struct mm_struct *mm; kuid_t loginuid; };

struct task_struct t;
struct sock s;
struct socket so;
struct msghdr m;
