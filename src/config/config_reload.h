// Reloading the configuration while running: on SIGHUP and, with
// --watch-config, when the file or one it includes changes. A valid file
// replaces the filter rules in place (FilterMaps: no recompile, no detach,
// no moment without rules); an invalid one is refused and the running rules
// stay. Either way a {"type":"config_reload"} line says what happened.
#pragma once

#include <chrono>
#include <string>

#include "common/clock.h"
#include "config/config.h"
#include "config/config_watch.h"
#include "kernel/filter_maps.h"
#include "output/output.h"

namespace pidtree {

class ConfigReloader {
 public:
  ConfigReloader(std::string path, CommandLineFilters cli, bool watch,
                 FilterMaps &maps, OutputSink &sink, Clock &clock)
      : path_(std::move(path)),
        cli_(std::move(cli)),
        watch_(watch),
        maps_(maps),
        sink_(sink),
        clock_(clock) {}

  // Starts watching the files of the configuration loaded at start.
  void start(const FileConfig &loaded);
  // Asks for a reload (SIGHUP); it happens in the next poll().
  void request() { requested_ = true; }
  // Reloads if asked to or if a watched file changed and then stayed
  // unchanged for a moment (editors write in several steps).
  void poll();

 private:
  void reload(const char *trigger);

  std::string path_;
  CommandLineFilters cli_;
  bool watch_;
  FilterMaps &maps_;
  OutputSink &sink_;
  Clock &clock_;
  ConfigWatcher watcher_;
  JsonFormatter formatter_;
  bool requested_ = false;
  bool change_pending_ = false;
  std::chrono::steady_clock::time_point last_change_;
};

}  // namespace pidtree
