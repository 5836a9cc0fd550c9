// Output: one JSON object per line, buffered and written to a file
// descriptor. Event lines are made by each probe (output/json.h); the
// tracer's own lines (lost events, reloads) are made here.
#pragma once

#include <cstdint>
#include <string>

namespace pidtree {

// The tracer's own lines (not events), through nlohmann::json: they are
// rare.
class JsonFormatter {
 public:
  std::string lost_events(uint64_t count, uint64_t total,
                          const std::string &timestamp) const;
  // {"type":"config_reload","status":"applied"|"refused",...}
  std::string config_reload(bool applied, const std::string &trigger,
                            const std::string &file, const std::string &reason,
                            size_t rules, const std::string &timestamp) const;
};

// Buffered line writer to a file descriptor. Write errors are sticky: once
// the reader is gone (EPIPE) or the disk is full (ENOSPC) every later call
// returns false. A regular file is never left ending in part of a line.
class OutputSink {
 public:
  explicit OutputSink(int fd) : fd_(fd) {}
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
  // True when the reader of a pipe has gone, detected without writing.
  bool reader_gone() const;
  bool failed() const { return failed_; }
  int error() const { return errno_; }

 private:
  static constexpr size_t kKeepCapacity = 1 << 20;
  // After a failed write, when `written` bytes of the buffer went out and
  // the last of them are not a whole line: cut them off a regular file.
  void drop_partial_line(size_t written);
  int fd_;
  std::string buffer_;
  bool failed_ = false;
  int errno_ = 0;
};

}  // namespace pidtree
