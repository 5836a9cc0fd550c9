// Probe: what the kernel offers, which backend to use, and the BCC program
// (compile, filter maps, attach, perf buffer). The only file that talks to
// libbcc.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernel/filter_maps.h"
#include "config/filters.h"
#include "kernel/kernel_features.h"
#include "kernel/program.h"

namespace ebpf {
class BPF;
}

namespace pidtree {

class ConnectProbe : public MapAccess {
 public:
  using SampleFn = std::function<void(const void *data, size_t size)>;
  using LostFn = std::function<void(uint64_t count)>;

  ConnectProbe();
  ~ConnectProbe();

  // Each step returns "" or a one-line error.
  std::string compile(const std::string &program);
  // The filter maps, once compiled (see FilterMaps).
  bool update(const char *map, const void *key, const void *value) override;
  bool erase(const char *map, const void *key) override;
  // Attaches what `shape` compiled in: the connect probes of its backend
  // (for the tracepoint backend, a raw tracepoint with sock_offsets),
  // and with process_events the probes that feed the process table (the
  // execve() and set*uid() syscall ones only without argv_offsets; see
  // bpf/process_events.bpf.c).
  std::string attach(const ProgramShape &shape);
  // The kernel wakes the reader once per `wakeup_events` events on a CPU
  // (each wake-up costs the connecting process a self-interrupt), so the
  // reader must also drain() on a timer to see the rest.
  std::string open_buffer(unsigned pages, unsigned wakeup_events,
                          SampleFn on_sample, LostFn on_lost);
  // Releases the compiler's memory once everything is loaded.
  void release_compiler_memory();

  // Waits up to timeout_ms for events and handles them; <0 on error.
  int poll(int timeout_ms);
  // Handles whatever is buffered without waiting.
  void drain();
  void detach();

 private:
  std::string attach_probes(const ProgramShape &shape);
  std::string attach_tracepoint(const std::string &category,
                                const std::string &name);
  static void sample_cb(void *cookie, void *data, int size);
  static void lost_cb(void *cookie, uint64_t count);

  std::unique_ptr<ebpf::BPF> bpf_;
  SampleFn on_sample_;
  LostFn on_lost_;
  std::vector<std::string> tracepoints_;  // attached, in order
  std::vector<std::string> raw_tracepoints_;
  std::vector<std::pair<std::string, int>> kprobes_;
};

}  // namespace pidtree
