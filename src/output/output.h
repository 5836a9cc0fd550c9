// Output: one JSON object per line. Every string is escaped by the JSON
// library (control bytes as \uXXXX, invalid UTF-8 replaced by U+FFFD), so no
// process can put a newline into a line or forge a line of its own.
#pragma once

#include <cstdint>
#include <string>

#include "process/ancestry.h"
#include "probes/decode.h"

namespace pidtree {

// Appends `text` as a JSON string: quotes, backslashes and control bytes
// escaped, UTF-8 kept, each byte of an invalid sequence replaced by U+FFFD.
void append_json_string(std::string *out, const std::string &text);

class JsonFormatter {
 public:
  // `username` is the connecting task's user; `timestamp` RFC 3339.
  std::string connect_event(const ConnectEvent &event, const Ancestry &ancestry,
                            const std::string &username,
                            const std::string &timestamp) const;
  // The same line, appended to `out` (the output buffer: no copy).
  void append_connect_event(std::string *out, const ConnectEvent &event,
                            const Ancestry &ancestry,
                            const std::string &username,
                            const std::string &timestamp) const;
  std::string lost_events(uint64_t count, uint64_t total,
                          const std::string &timestamp) const;
  // {"type":"config_reload","status":"applied"|"refused",...}
  std::string config_reload(bool applied, const std::string &trigger,
                            const std::string &file, const std::string &reason,
                            size_t rules, const std::string &timestamp) const;
};

// Buffered line writer to a file descriptor. Write errors are sticky: once
// the reader is gone (EPIPE) every later call returns false.
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
  int fd_;
  std::string buffer_;
  bool failed_ = false;
  int errno_ = 0;
};

}  // namespace pidtree
