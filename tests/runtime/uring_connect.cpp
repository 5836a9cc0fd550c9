/* io_uring connect helper for the runtime tests (test_hardening.py): one
 * IORING_OP_CONNECT to ADDR:PORT (IPv4), submitted inline or, with
 * "async", with IOSQE_ASYNC so that an io-wq worker thread of this process
 * makes it. Prints {"pid":N,"res":R} (R: the connect's result, -errno),
 * then waits for stdin to close so the tracer can read /proc.
 *   uring_connect ADDR PORT [async]
 * Raw system calls: no liburing needed. */
#include <arpa/inet.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: uring_connect ADDR PORT [async]\n");
    return 2;
  }
  int async = argc > 3 && strcmp(argv[3], "async") == 0;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
    fprintf(stderr, "uring_connect: bad address %s\n", argv[1]);
    return 2;
  }
  int sock = socket(AF_INET, SOCK_STREAM, 0);
  struct io_uring_params p;
  memset(&p, 0, sizeof(p));
  int ring = (int)syscall(__NR_io_uring_setup, 4, &p);
  if (sock < 0 || ring < 0) {
    perror("uring_connect: socket or io_uring_setup");
    return 1;
  }
  size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  char *sq = (char *)mmap(NULL, sq_size, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
  char *cq = (char *)mmap(NULL, cq_size, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
  struct io_uring_sqe *sqes = (struct io_uring_sqe *)mmap(
      NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
      MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
  if (sq == MAP_FAILED || cq == MAP_FAILED || (void *)sqes == MAP_FAILED) {
    perror("uring_connect: mmap");
    return 1;
  }
  unsigned *sq_tail = (unsigned *)(sq + p.sq_off.tail);
  unsigned *sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
  unsigned *sq_array = (unsigned *)(sq + p.sq_off.array);
  unsigned tail = *sq_tail;
  unsigned idx = tail & *sq_mask;
  struct io_uring_sqe *sqe = &sqes[idx];
  memset(sqe, 0, sizeof(*sqe));
  sqe->opcode = IORING_OP_CONNECT;
  sqe->fd = sock;
  sqe->addr = (unsigned long)&sa;
  sqe->off = sizeof(sa);
  sqe->flags = async ? IOSQE_ASYNC : 0;
  sq_array[idx] = idx;
  __atomic_store_n(sq_tail, tail + 1, __ATOMIC_RELEASE);
  if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL,
              0) < 0) {
    perror("uring_connect: io_uring_enter");
    return 1;
  }
  unsigned *cq_head = (unsigned *)(cq + p.cq_off.head);
  unsigned *cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
  struct io_uring_cqe *cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
  unsigned head = __atomic_load_n(cq_head, __ATOMIC_ACQUIRE);
  int res = cqes[head & *cq_mask].res;
  __atomic_store_n(cq_head, head + 1, __ATOMIC_RELEASE);
  printf("{\"pid\":%d,\"res\":%d}\n", getpid(), res);
  fflush(stdout);
  char buf[64];
  while (read(0, buf, sizeof(buf)) > 0) {
  }
  return 0;
}
