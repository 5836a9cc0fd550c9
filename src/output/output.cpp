#include "output/output.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include <nlohmann/json.hpp>

#include "common/net.h"
#include "output/text.h"

namespace pidtree {

namespace {

using Json = nlohmann::ordered_json;

std::string dump_line(const Json &j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace

std::string JsonFormatter::counter(const char *type, uint64_t count,
                                   uint64_t total,
                                   const std::string &timestamp) const {
  return dump_line(Json{{"type", type},
                        {"timestamp", timestamp},
                        {"count", count},
                        {"total", total}});
}

std::string JsonFormatter::config_reload(Reload status,
                                         const std::string &trigger,
                                         const std::string &file,
                                         const std::string &reason,
                                         size_t rules,
                                         const std::string &timestamp) const {
  Json j{{"type", "config_reload"},
         {"timestamp", timestamp},
         {"status", status == Reload::kApplied   ? "applied"
                    : status == Reload::kRefused ? "refused"
                                                 : "restart"},
         {"trigger", trigger},
         {"file", file}};
  if (status == Reload::kApplied)
    j["rules"] = rules;
  else
    j["reason"] = reason;
  return dump_line(j);
}

void OutputSink::add_line(const std::string &line) { buffer_ += line; }

bool OutputSink::flush() {
  if (failed_) {
    buffer_.clear();
    return false;
  }
  if (view_) {
    rendered_.clear();
    view_->render_lines(buffer_, &rendered_);
  }
  const std::string &data = view_ ? rendered_ : buffer_;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        // A non-blocking output (inherited): wait until it takes more.
        pollfd p{fd_, POLLOUT, 0};
        if (::poll(&p, 1, -1) >= 0 && !(p.revents & (POLLERR | POLLNVAL)))
          continue;
      }
      failed_ = true;
      errno_ = errno;
      drop_partial_line(data, done);
      break;
    }
    done += static_cast<size_t>(n);
  }
  buffer_.clear();
  // After a huge line (command lines can be long), give the memory back.
  if (buffer_.capacity() > kKeepCapacity)
    std::string().swap(buffer_);
  if (rendered_.capacity() > kKeepCapacity)
    std::string().swap(rendered_);
  return !failed_;
}

void OutputSink::drop_partial_line(const std::string &data, size_t written) {
  if (written == 0)
    return;
  size_t last_newline = data.rfind('\n', written - 1);
  size_t whole = last_newline == std::string::npos ? 0 : last_newline + 1;
  size_t partial = written - whole;
  struct stat st {};
  if (partial == 0 || ::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_size < static_cast<off_t>(partial))
    return;
  // The file ends with the start of a line that cannot be finished (the
  // disk is full): cut it, so the file holds whole lines only. Best
  // effort: the write's error is what gets reported.
  (void)!::ftruncate(fd_, st.st_size - static_cast<off_t>(partial));
}

bool OutputSink::switch_to(int fd) {
  bool ok = flush();
  ::close(fd_);
  fd_ = fd;
  return ok;
}

int OutputFile::open(std::string *why) const {
  const int nofollow = follow_symlink_ ? 0 : O_NOFOLLOW;
  int fd = ::open(path_.c_str(),
                  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | nofollow, 0600);
  if (fd >= 0)
    return fd;
  if (errno == ELOOP && nofollow)
    *why = "output file '" + printable(path_) +
           "' is a symbolic link: refused (pass --output-follow-symlink to "
           "write through it)";
  else
    *why = "cannot open output file '" + printable(path_) +
           "': " + std::strerror(errno);
  return -1;
}

bool OutputSink::reader_gone() const {
  pollfd p{fd_, 0, 0};
  // A pipe whose reader closed reports POLLERR; files never do.
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)) != 0;
}

}  // namespace pidtree
