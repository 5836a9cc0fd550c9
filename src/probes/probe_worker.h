// A probe's work of its own on a thread (net_listen's periodic snapshots,
// udp_session's scans of its map): run every period until stopped, the
// events it makes queued for the pipeline (Probe::collect).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "probes/events.h"

namespace pidtree {

class ProbeWorker {
 public:
  ProbeWorker() = default;
  ~ProbeWorker() { stop(); }
  ProbeWorker(const ProbeWorker &) = delete;
  ProbeWorker &operator=(const ProbeWorker &) = delete;

  // Runs `work` every `period` on a thread of its own, the first time at
  // once (`at_once`) or after one period. Once only.
  void start(std::chrono::nanoseconds period, bool at_once,
             std::function<void()> work);
  // Ends the thread (a run in progress finishes first); false when it was
  // not running.
  bool stop();
  // Events for the next collect(), from any thread.
  void post(std::vector<Event> events);
  void collect(std::vector<Event> *out);

 private:
  std::mutex mutex_;  // made_ and stopping_
  std::condition_variable wake_;
  std::thread thread_;
  std::vector<Event> made_;
  bool stopping_ = false;
};

}  // namespace pidtree
