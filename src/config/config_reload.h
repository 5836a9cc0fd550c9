// Reloading the configuration while running: on SIGHUP and, with
// --watch-config, when the file or one it includes changes. A valid file
// replaces every probe's filter rules in place (FilterMaps: no recompile,
// no detach, no moment without rules); an invalid one is refused and the
// running rules stay. Either way a {"type":"config_reload"} line says what
// happened.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/clock.h"
#include "config/config.h"
#include "config/config_watch.h"
#include "config/remote.h"
#include "output/output.h"

namespace pidtree {

// What takes a reloaded file (the probes).
class Reconfigurable {
 public:
  virtual ~Reconfigurable() = default;
  // "" (and the number of network rules now in force, with notes on what
  // needs a restart) or why the file is refused; then nothing changed.
  virtual std::string reconfigure(const FileConfig &file, size_t *rules,
                                  std::vector<std::string> *notes) = 0;
  // What in `file` the running programs cannot take in place (each a
  // phrase, e.g. "net_listen.protocols changed"); empty when none.
  virtual std::vector<std::string> restart_reasons(
      const FileConfig &file) const {
    (void)file;
    return {};
  }
};

class ConfigReloader {
 public:
  // remote: where the file's remote includes are kept (nullptr: none).
  ConfigReloader(std::string path, bool watch, Reconfigurable &target,
                 OutputSink &sink, Clock &clock,
                 RemoteIncludes *remote = nullptr)
      : path_(std::move(path)),
        watch_(watch),
        target_(target),
        sink_(sink),
        clock_(clock),
        remote_(remote) {}

  // Starts watching the files of the configuration loaded at start.
  void start(const FileConfig &loaded);
  // Asks for a reload (SIGHUP); it happens in the next poll(), with the
  // remote includes' kept copies, and they are fetched again soon (a
  // change found then reloads again, with -w).
  void request();
  // Reloads if asked to, if a watched file changed and then stayed
  // unchanged for a moment (editors write in several steps), or, with -w,
  // if a remote include changed. A failed refetch of one is reported.
  void poll();

  // Under a supervisor (pipeline/supervisor.h): a change that needs a
  // restart ends the event loop (restart_requested) instead of waiting.
  void allow_restart(bool allow) { restart_allowed_ = allow; }
  bool restart_requested() const { return restart_requested_; }

  uint64_t applied() const { return applied_; }
  uint64_t refused() const { return refused_; }

 private:
  void reload(const char *trigger);
  using Reload = JsonFormatter::Reload;
  void report(Reload status, const char *trigger, const std::string &reason,
              size_t rules);

  std::string path_;
  bool watch_;
  Reconfigurable &target_;
  OutputSink &sink_;
  Clock &clock_;
  RemoteIncludes *remote_;
  ConfigWatcher watcher_;
  JsonFormatter formatter_;
  bool requested_ = false;
  bool restart_allowed_ = false;
  bool restart_requested_ = false;
  bool change_pending_ = false;
  uint64_t applied_ = 0;
  uint64_t refused_ = 0;
  std::chrono::steady_clock::time_point last_change_;
};

}  // namespace pidtree
