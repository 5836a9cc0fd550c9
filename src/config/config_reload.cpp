#include "config/config_reload.h"

#include <cstdio>
#include <cstring>

namespace pidtree {

namespace {

// Quiet time after the last change before the file is read.
constexpr auto kSettle = std::chrono::milliseconds(150);
// The trigger of a config_reload line that reports a failed refetch of a
// remote include (no reload: the last good copy stays).
constexpr const char *kRemoteFetch = "remote fetch";

void print_notes(const FileConfig &config) {
  for (const auto &note : config.notes)
    std::fprintf(stderr, "pidtree-bcc: note: %s\n", note.c_str());
}

}  // namespace

void ConfigReloader::start(const FileConfig &loaded) {
  if (!watch_)
    return;
  std::string err = watcher_.watch(loaded.files);
  if (!err.empty())
    std::fprintf(stderr, "pidtree-bcc: warning: %s\n", err.c_str());
}

void ConfigReloader::request() {
  requested_ = true;
  if (remote_)
    remote_->refresh_soon();
}

void ConfigReloader::poll() {
  if (restart_requested_)
    return;  // the loop ends; the new tracer reads the file
  auto now = std::chrono::steady_clock::now();
  if (watch_ && watcher_.changed()) {
    change_pending_ = true;
    last_change_ = now;
  }
  bool remote_changed = false;
  if (remote_) {
    std::vector<std::string> failures;
    remote_changed = remote_->poll(&failures);
    for (const auto &why : failures)
      report(Reload::kRefused, kRemoteFetch, why, 0);
    if (remote_changed && !watch_)
      std::fprintf(stderr,
                   "pidtree-bcc: note: a remote include changed; without "
                   "--watch-config it is applied at the next SIGHUP\n");
  }
  if (requested_) {
    requested_ = false;
    change_pending_ = false;
    reload("SIGHUP");
  } else if (change_pending_ && now - last_change_ >= kSettle) {
    change_pending_ = false;
    reload("file change");
  } else if (remote_changed && watch_) {
    reload("remote change");
  }
}

void ConfigReloader::reload(const char *trigger) {
  std::string reason;
  size_t rules = 0;
  try {
    FileConfig config = load_config(path_, remote_);
    std::vector<std::string> restart = target_.restart_reasons(config);
    if (restart_allowed_ && !restart.empty()) {
      std::string why;
      for (const auto &r : restart)
        why += (why.empty() ? "" : "; ") + r;
      report(Reload::kRestart, trigger, why, 0);
      restart_requested_ = true;
      return;
    }
    std::vector<std::string> notes;
    reason = target_.reconfigure(config, &rules, &notes);
    if (reason.empty()) {
      print_notes(config);
      for (const auto &note : notes)
        std::fprintf(stderr, "pidtree-bcc: note: %s\n", note.c_str());
      if (watch_)
        watcher_.watch(config.files);  // includes may have changed
      if (remote_)
        remote_->use(config.urls);
    }
  } catch (const std::exception &e) {
    reason = e.what();
  }
  report(reason.empty() ? Reload::kApplied : Reload::kRefused, trigger, reason,
         rules);
}

void ConfigReloader::report(Reload status, const char *trigger,
                            const std::string &reason, size_t rules) {
  if (status != Reload::kRestart)
    ++(status == Reload::kApplied ? applied_ : refused_);
  if (status == Reload::kRestart)
    std::fprintf(stderr,
                 "pidtree-bcc: configuration changed (%s) in a way the "
                 "running programs cannot take in place (%s): restarting\n",
                 trigger, reason.c_str());
  else if (std::strcmp(trigger, kRemoteFetch) == 0)
    std::fprintf(stderr, "pidtree-bcc: warning: remote include: %s\n",
                 reason.c_str());
  else if (status == Reload::kApplied)
    std::fprintf(stderr,
                 "pidtree-bcc: configuration reloaded (%s): %zu network "
                 "rules\n",
                 trigger, rules);
  else
    std::fprintf(stderr,
                 "pidtree-bcc: configuration reload refused (%s), the "
                 "running rules stay: %s\n",
                 trigger, reason.c_str());
  sink_.add_line(
      formatter_.config_reload(status, trigger, path_, reason, rules,
                               format_rfc3339_utc(clock_.realtime_ns())));
}

}  // namespace pidtree
