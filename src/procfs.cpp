#include "pidtree/procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

namespace pidtree {

namespace {

enum class FileRead { kOk, kMissing, kError };

FileRead read_file(const std::string &path, size_t limit, std::string *out,
                   bool *cut) {
  out->clear();
  *cut = false;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT || errno == ESRCH ? FileRead::kMissing
                                             : FileRead::kError;
  char buf[16384];
  FileRead result = FileRead::kOk;
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      result = errno == ESRCH ? FileRead::kMissing : FileRead::kError;
      break;
    }
    if (n == 0)
      break;
    // Keep one byte past the limit: only then do we know there was more.
    size_t take = std::min(static_cast<size_t>(n), limit + 1 - out->size());
    out->append(buf, take);
    if (out->size() > limit) {
      out->resize(limit);
      *cut = true;
      break;
    }
  }
  ::close(fd);
  return result;
}

bool parse_u32(const char *p, const char *end, uint32_t *out) {
  while (p < end && (*p == ' ' || *p == '\t'))
    ++p;
  if (p >= end || *p < '0' || *p > '9')
    return false;
  uint64_t v = 0;
  while (p < end && *p >= '0' && *p <= '9') {
    v = v * 10 + static_cast<uint64_t>(*p - '0');
    if (v > UINT32_MAX)
      return false;
    ++p;
  }
  // The number must be the whole field ("12abc" is not 12).
  if (p < end && *p != ' ' && *p != '\t')
    return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

std::string join_cmdline(const std::string &raw) {
  std::string out = raw;
  // argv ends in NUL; a process that rewrote its argv may not.
  while (!out.empty() && out.back() == '\0')
    out.pop_back();
  for (char &c : out)
    if (c == '\0')
      c = ' ';
  return out;
}

bool parse_status(const std::string &text, ProcessInfo *out) {
  bool have_ppid = false, have_uid = false, have_name = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos)
      eol = text.size();
    const char *line = text.data() + pos;
    const char *end = text.data() + eol;
    size_t len = eol - pos;
    if (len >= 5 && std::memcmp(line, "Name:", 5) == 0) {
      const char *p = line + 5;
      while (p < end && (*p == ' ' || *p == '\t'))
        ++p;
      out->name.assign(p, end);
      have_name = true;
    } else if (len >= 6 && std::memcmp(line, "State:", 6) == 0) {
      const char *p = line + 6;
      while (p < end && (*p == ' ' || *p == '\t'))
        ++p;
      out->exited = p < end && (*p == 'Z' || *p == 'X');
    } else if (len >= 5 && std::memcmp(line, "PPid:", 5) == 0) {
      have_ppid = parse_u32(line + 5, end, &out->ppid);
    } else if (len >= 4 && std::memcmp(line, "Uid:", 4) == 0) {
      have_uid = parse_u32(line + 4, end, &out->uid);
    }
    pos = eol + 1;
  }
  return have_ppid && have_uid && have_name;
}

ReadStatus ProcFs::read(uint32_t pid, ProcessInfo *out) {
  const std::string dir = root_ + "/" + std::to_string(pid);
  std::string text;
  bool cut = false;
  FileRead r = read_file(dir + "/status", 1 << 16, &text, &cut);
  if (r == FileRead::kMissing)
    return ReadStatus::kGone;
  if (r != FileRead::kOk || !parse_status(text, out))
    return ReadStatus::kUnreadable;
  out->pid = pid;
  r = read_file(dir + "/cmdline", kMaxCmdline, &text, &cut);
  if (r == FileRead::kMissing)
    return ReadStatus::kGone;
  if (r != FileRead::kOk)
    return ReadStatus::kUnreadable;
  out->cmdline = join_cmdline(text);
  if (cut)
    out->cmdline += kCmdlineCutMarker;
  // Kernel threads and zombies have no argv: show the name as ps does.
  if (out->cmdline.empty())
    out->cmdline = "[" + out->name + "]";
  return ReadStatus::kOk;
}

}  // namespace pidtree
