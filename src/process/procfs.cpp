#include "process/procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace pidtree {

FileRead read_file(const std::string &path, size_t limit, std::string *out,
                   bool *cut, std::string *why) {
  out->clear();
  *cut = false;
  std::string ignored;
  std::string &reason = why ? *why : ignored;
  // Non-blocking, and regular files only: a FIFO or device put where a
  // file is expected would block the open or the read, or never end.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    reason = std::strerror(errno);
    return errno == ENOENT || errno == ESRCH ? FileRead::kMissing
                                             : FileRead::kError;
  }
  struct stat st {};
  const char *refused = nullptr;
  if (::fstat(fd, &st) != 0)
    refused = std::strerror(errno);
  else if (S_ISDIR(st.st_mode))
    refused = "it is a directory";
  else if (!S_ISREG(st.st_mode))
    refused = "not a regular file";
  if (refused) {
    reason = refused;
    ::close(fd);
    return FileRead::kError;
  }
  char buf[16384];
  FileRead result = FileRead::kOk;
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      reason = std::strerror(errno);
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

namespace {

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

bool parse_stat_field(const std::string &text, int wanted, uint64_t *value) {
  size_t paren = text.rfind(')');
  if (paren == std::string::npos || wanted < 3)
    return false;
  // Fields after the command start at field 3.
  size_t pos = paren + 1;
  for (int field = 3; field <= wanted; ++field) {
    while (pos < text.size() && text[pos] == ' ')
      ++pos;
    size_t end = text.find(' ', pos);
    if (end == std::string::npos)
      end = text.size();
    if (pos >= end)
      return false;
    if (field == wanted) {
      uint32_t digits = 0;
      uint64_t v = 0;
      for (size_t i = pos; i < end; ++i) {
        if (text[i] < '0' || text[i] > '9' || ++digits > 19)
          return false;
        v = v * 10 + static_cast<uint64_t>(text[i] - '0');
      }
      *value = v;
      return true;
    }
    pos = end;
  }
  return false;
}

uint64_t ProcFs::start_time_ns(uint32_t pid) {
  std::string text;
  bool cut = false;
  uint64_t ticks = 0;
  if (read_file(root_ + "/" + std::to_string(pid) + "/stat", 4096, &text,
                &cut) != FileRead::kOk ||
      !parse_stat_start_ticks(text, &ticks))
    return 0;
  static const long hz = sysconf(_SC_CLK_TCK);
  return ticks * (1000000000ull / static_cast<uint64_t>(hz > 0 ? hz : 100));
}

std::vector<uint32_t> ProcFs::list_pids() {
  std::vector<uint32_t> pids;
  DIR *dir = opendir(root_.c_str());
  if (!dir)
    return pids;
  while (dirent *entry = readdir(dir)) {
    uint32_t pid = 0;
    const char *name = entry->d_name;
    if (parse_u32(name, name + strlen(name), &pid) && pid != 0 &&
        std::to_string(pid) == name)
      pids.push_back(pid);
  }
  closedir(dir);
  return pids;
}

std::optional<uint32_t> parse_loginuid(const std::string &text) {
  size_t end = text.size();
  while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == ' '))
    --end;
  if (end == 0 || end > 10)
    return std::nullopt;
  uint64_t v = 0;
  for (size_t i = 0; i < end; ++i) {
    if (text[i] < '0' || text[i] > '9')
      return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(text[i] - '0');
  }
  if (v > 0xffffffffu)
    return std::nullopt;
  return static_cast<uint32_t>(v);
}

uint32_t ProcFs::loginuid(uint32_t pid) {
  std::string text;
  bool cut = false;
  if (read_file(root_ + "/" + std::to_string(pid) + "/loginuid", 32, &text,
                &cut) != FileRead::kOk ||
      cut)
    return 0xffffffffu;
  return parse_loginuid(text).value_or(0xffffffffu);
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
  out->loginuid = loginuid(pid);
  // Kernel threads and zombies have no argv: show the name as ps does.
  if (out->cmdline.empty())
    out->cmdline = "[" + out->name + "]";
  return ReadStatus::kOk;
}

}  // namespace pidtree
