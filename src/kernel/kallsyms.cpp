#include "kernel/kallsyms.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <exception>

namespace pidtree {

namespace {

// kallsyms lines are at most a 512-byte name, a module name and an address.
constexpr size_t kMaxLine = 4096;
// Clang parses deeply nested headers; give it the main thread's usual room.
constexpr size_t kThreadStack = 64u << 20;

std::string failed(const char *step) {
  return std::string(step) + ": " + std::strerror(errno);
}

bool write_all(int fd, const std::string &data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Writes `lines` to a file on a tmpfs of its own, mounted for a moment
// over an existing directory, and binds that file over /proc/kallsyms. (The
// kernel will not bind an unnamed O_TMPFILE, and a file on a shared tmpfs
// would be visible to the host.)
std::string bind_short_kallsyms(const std::string &lines) {
  const char *dir = nullptr;
  for (const char *d : {"/tmp", "/dev/shm", "/run", "/mnt"}) {
    if (::mount("pidtree-bcc", d, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "size=1m,mode=0700") == 0) {
      dir = d;
      break;
    }
  }
  if (dir == nullptr)
    return failed("mounting a tmpfs");
  std::string path = std::string(dir) + "/kallsyms";
  std::string err;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    err = failed("creating the short kallsyms");
  } else {
    if (!write_all(fd, lines))
      err = failed("writing the short kallsyms");
    ::close(fd);
  }
  if (err.empty() &&
      ::mount(path.c_str(), "/proc/kallsyms", nullptr, MS_BIND, nullptr) != 0)
    err = failed("binding over /proc/kallsyms");
  // The bind keeps the file; the directory is seen as before.
  ::umount2(dir, MNT_DETACH);
  return err;
}

// Makes /proc/kallsyms read as `lines` on the calling thread only.
std::string isolate_kallsyms(const std::string &lines) {
  // CLONE_NEWNS also gives this thread its own root and working directory
  // (copies of the process's), so nothing else of the process changes.
  if (::unshare(CLONE_NEWNS) != 0)
    return failed("unshare(CLONE_NEWNS)");
  // Before any mount: nothing done here may reach the host's namespace.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return failed("making the mount namespace private");
  return bind_short_kallsyms(lines);
}

struct Job {
  const std::string *lines;
  const std::function<void()> *fn;
  std::string setup_error;
  std::exception_ptr thrown;
};

void *run_job(void *arg) {
  auto *job = static_cast<Job *>(arg);
  job->setup_error = isolate_kallsyms(*job->lines);
  try {
    (*job->fn)();
  } catch (...) {
    job->thrown = std::current_exception();
  }
  return nullptr;  // the thread's namespace, mount and file go with it
}

// "ADDRESS TYPE NAME[\t[MODULE]]": the name, and whether BCC would take
// the line (bcc_procutils_each_ksym skips data symbols and address 0).
bool parse_line(std::string_view line, std::string_view *name, bool *usable) {
  size_t sp1 = line.find(' ');
  if (sp1 == 0 || sp1 == std::string_view::npos || sp1 + 3 > line.size() ||
      line[sp1 + 2] != ' ')
    return false;
  std::string_view addr = line.substr(0, sp1);
  if (addr.size() > 16 || addr.find_first_not_of("0123456789abcdefABCDEF") !=
                              std::string_view::npos)
    return false;
  char type = line[sp1 + 1];
  std::string_view rest = line.substr(sp1 + 3);
  *name = rest.substr(0, rest.find_first_of(" \t"));
  if (name->empty())
    return false;
  bool zero = addr.find_first_not_of('0') == std::string_view::npos;
  *usable = !zero && std::strchr("bBdDrR", type) == nullptr;
  return true;
}

}  // namespace

KsymLinePicker::KsymLinePicker(std::vector<std::string> names)
    : names_(std::move(names)) {}

void KsymLinePicker::take_line(std::string_view line) {
  std::string_view name;
  bool usable = false;
  if (!parse_line(line, &name, &usable))
    return;
  for (const auto &wanted : names_) {
    if (name != wanted)
      continue;
    lines_.append(line).push_back('\n');
    bool seen = false;
    for (const auto &f : found_)
      seen = seen || f == wanted;
    if (usable && !seen)
      found_.push_back(wanted);
    return;
  }
}

void KsymLinePicker::feed(std::string_view chunk) {
  while (!chunk.empty()) {
    size_t nl = chunk.find('\n');
    std::string_view piece = chunk.substr(0, nl);
    if (!overlong_ && partial_.size() + piece.size() <= kMaxLine)
      partial_.append(piece);
    else
      overlong_ = true;
    if (nl == std::string_view::npos)
      return;
    if (!overlong_)
      take_line(partial_);
    partial_.clear();
    overlong_ = false;
    chunk.remove_prefix(nl + 1);
  }
}

void KsymLinePicker::finish() {
  if (!overlong_ && !partial_.empty())
    take_line(partial_);
  partial_.clear();
  overlong_ = false;
}

bool read_ksym_lines(const std::string &path,
                     const std::vector<std::string> &names,
                     std::string *lines) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  KsymLinePicker picker(names);
  static thread_local char buf[1 << 16];
  bool ok = true;
  while (!picker.all_found()) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      ok = false;
    if (n <= 0)
      break;
    picker.feed(std::string_view(buf, static_cast<size_t>(n)));
  }
  ::close(fd);
  picker.finish();
  *lines = picker.lines();
  return ok;
}

std::string run_with_kallsyms(const std::string &lines,
                              const std::function<void()> &fn) {
  Job job{&lines, &fn, "", nullptr};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kThreadStack);
  pthread_t thread;
  int rc = pthread_create(&thread, &attr, run_job, &job);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    errno = rc;
    fn();
    return failed("starting the compile thread");
  }
  pthread_join(thread, nullptr);
  if (job.thrown)
    std::rethrow_exception(job.thrown);
  return job.setup_error;
}

}  // namespace pidtree
