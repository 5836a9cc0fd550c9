// The loaded BPF program, through BCC: compile, map access, attach (one
// loader per type of hook), the perf buffer, detach. The only code that
// talks to libbcc.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kernel/filter_maps.h"
#include "kernel/hook.h"
#include "pipeline/event_loop.h"

namespace ebpf {
class BPF;
}

namespace pidtree {

class BpfProgram : public MapAccess, public EventSource {
 public:
  using SampleFn = std::function<void(const void *data, size_t size)>;
  using LostFn = std::function<void(uint64_t count)>;

  BpfProgram();
  ~BpfProgram();

  // Each step returns "" or a one-line error.
  std::string compile(const std::string &program);
  bool update(const char *map, const void *key, const void *value) override;
  bool erase(const char *map, const void *key) override;
  bool lookup(const char *map, const void *key, void *value) override;
  bool next_key(const char *map, const void *key, void *next) override;
  bool lookup_and_delete(const char *map, const void *key,
                         void *value) override;
  bool sum_percpu(const char *map, uint32_t index, uint64_t *sum) override;
  // Attaches every hook, in order; on an error, what was attached stays
  // until detach().
  std::string attach(const std::vector<Hook> &hooks);
  // The kernel wakes the reader once per `wakeup_events` events on a CPU
  // (each wake-up costs the sending process a self-interrupt), so the
  // reader must also drain() on a timer to see the rest.
  std::string open_buffer(unsigned pages, unsigned wakeup_events,
                          SampleFn on_sample, LostFn on_lost);
  // Releases the compiler's memory once everything is loaded.
  void release_compiler_memory();

  // Waits up to timeout_ms for events and handles them; <0 on error.
  int poll(int timeout_ms) override;
  // Handles whatever is buffered without waiting.
  void drain() override;
  // Detaches everything, in the reverse order of attaching.
  void detach();

 private:
  std::string attach_one(const Hook &hook);
  int map_fd(const char *map);
  static void sample_cb(void *cookie, void *data, int size);
  static void lost_cb(void *cookie, uint64_t count);

  std::unique_ptr<ebpf::BPF> bpf_;
  SampleFn on_sample_;
  LostFn on_lost_;
  struct Attached {
    Hook hook;
    int link_fd = -1;  // kCgroup: the BPF link
  };
  std::vector<Attached> attached_;
  int cgroup_fd_ = -1;
  // Map descriptors by name, looked up once (and so safe to read from
  // another thread: BCC's table lookup is not).
  std::mutex fds_mutex_;
  std::map<std::string, int> fds_;
};

}  // namespace pidtree
