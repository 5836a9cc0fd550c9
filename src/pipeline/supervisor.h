// With --watch-config, a change the running programs cannot take in place
// (a probe section added or removed, net_listen.protocols, ...) is applied
// by starting the tracer again, as upstream does. The tracer cannot do
// that itself: once started it has dropped the capabilities that loading
// and attaching need. So with -w the first process becomes a supervisor
// that keeps them, reads no input beyond the flags, runs the tracer as its
// child (the same binary and arguments), forwards SIGHUP, SIGINT and
// SIGTERM to it, and starts it again when it exits asking for a restart,
// at most kMaxRestarts times in kRestartWindow.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>

namespace pidtree {

// The tracer's exit status when it asks its supervisor for a restart.
constexpr int kRestartStatus = 75;
constexpr int kMaxRestarts = 5;
constexpr std::chrono::seconds kRestartWindow{600};

// Counts restarts in a sliding window (for unit tests without fork).
class RestartBudget {
 public:
  // True when one more restart at `now` is within the bound.
  bool allow(std::chrono::steady_clock::time_point now);

 private:
  std::deque<std::chrono::steady_clock::time_point> recent_;
};

// In the supervisor: runs the tracer until it exits for good and returns
// the status main should exit with. In a supervised tracer (the child):
// returns -1 at once, and the child dies with its supervisor.
int supervise(char **argv);

// True in a tracer started by a supervisor (restarts are possible).
bool supervised();

}  // namespace pidtree
