#include "probes/probe_worker.h"

namespace pidtree {

void ProbeWorker::start(std::chrono::nanoseconds period, bool at_once,
                        std::function<void()> work) {
  if (thread_.joinable())
    return;
  thread_ = std::thread([this, period, at_once, work = std::move(work)] {
    std::unique_lock<std::mutex> lock(mutex_);
    bool wait = !at_once;
    while (!stopping_) {
      if (wait && wake_.wait_for(lock, period, [this] { return stopping_; }))
        break;
      wait = true;
      lock.unlock();
      work();
      lock.lock();
    }
  });
}

bool ProbeWorker::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (!thread_.joinable())
    return false;
  thread_.join();
  return true;
}

void ProbeWorker::post(std::vector<Event> events) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto &e : events)
    made_.push_back(std::move(e));
}

void ProbeWorker::collect(std::vector<Event> *out) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto &e : made_)
    out->push_back(std::move(e));
  made_.clear();
}

}  // namespace pidtree
