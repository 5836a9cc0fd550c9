// Output: one JSON object per line, buffered and written to a file
// descriptor. Event lines are made by each probe (output/json.h); the
// tracer's own lines (lost events, reloads) are made here.
#pragma once

#include <cstdint>
#include <string>

namespace pidtree {

class TextView;

// The tracer's own lines (not events), through nlohmann::json: they are
// rare.
class JsonFormatter {
 public:
  std::string lost_events(uint64_t count, uint64_t total,
                          const std::string &timestamp) const {
    return counter("lost_events", count, total, timestamp);
  }
  // {"type":<type>,"timestamp","count" (since the last such line),"total"}:
  // what was counted instead of written (lost_events,
  // udp_sessions_untracked, flood_untracked).
  std::string counter(const char *type, uint64_t count, uint64_t total,
                      const std::string &timestamp) const;
  // {"type":"config_reload","status":"applied"|"refused"|"restart",...}:
  // "rules" when applied, else "reason".
  enum class Reload { kApplied, kRefused, kRestart };
  std::string config_reload(Reload status, const std::string &trigger,
                            const std::string &file, const std::string &reason,
                            size_t rules, const std::string &timestamp) const;
};

// Buffered line writer to a file descriptor. Write errors are sticky: once
// the reader is gone (EPIPE) or the disk is full (ENOSPC) every later call
// returns false. A regular file is never left ending in part of a line.
class OutputSink {
 public:
  explicit OutputSink(int fd) : fd_(fd) {}
  // --format text: the JSON lines are written through `view` (output/
  // text.h); nullptr (the default): as they are.
  void set_view(const TextView *view) { view_ = view; }
  void add_line(const std::string &line);
  // The pending output, for writers that append in place.
  std::string &buffer() { return buffer_; }
  // Writes everything buffered; false once the output is closed or broken.
  bool flush();
  // Output is written once this much is pending, even mid-batch.
  static constexpr size_t kFlushBytes = 256 * 1024;
  // flush() if kFlushBytes or more are pending (for in-place writers).
  bool flush_if_full() {
    return buffer_.size() < kFlushBytes ? !failed_ : flush();
  }
  // Writes what is pending to the current descriptor, then continues on
  // `fd` (the old one is closed): a reopened output file. False when the
  // pending output could not be written (the failure stays, as any).
  bool switch_to(int fd);
  // True when the reader of a pipe has gone, detected without writing.
  bool reader_gone() const;
  bool failed() const { return failed_; }
  int error() const { return errno_; }

 private:
  static constexpr size_t kKeepCapacity = 1 << 20;
  // After a failed write, when `written` bytes of `data` went out and the
  // last of them are not a whole line: cut them off a regular file.
  void drop_partial_line(const std::string &data, size_t written);
  int fd_;
  const TextView *view_ = nullptr;
  std::string buffer_;
  std::string rendered_;  // with a view: what is written
  bool failed_ = false;
  int errno_ = 0;
};

// -f PATH: opened (and reopened after rotation, on SIGHUP) for appending,
// made 0600, a symbolic link refused unless `follow_symlink`.
class OutputFile {
 public:
  OutputFile(std::string path, bool follow_symlink)
      : path_(std::move(path)), follow_symlink_(follow_symlink) {}
  // A new descriptor, or -1 with `why` set (one line).
  int open(std::string *why) const;

 private:
  std::string path_;
  bool follow_symlink_;
};

}  // namespace pidtree
