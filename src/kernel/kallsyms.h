// A short /proc/kallsyms for the BPF compile.
//
// On every compile, BCC's rewriter (DoMiscWorkAround and
// check_bpf_probe_read_user in b_frontend_action.cc, bcc 0.26 to today)
// loads every kernel symbol into a sorted vector and a hash map, only to ask
// whether bpf_probe_read_kernel and bpf_probe_read_user exist. With a
// 120,000-symbol kernel that is 0.17-0.32 s of a 0.8 s start. The compile
// can instead run on a thread that sees a /proc/kallsyms holding only the
// lines of those symbols, copied from the real file: BCC decides exactly as
// it would, and reads one line instead of 120,000.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pidtree {

// The symbols BCC looks up while compiling.
inline const std::vector<std::string> kBccKsyms = {"bpf_probe_read_kernel",
                                                   "bpf_probe_read_user"};

// Collects, from kallsyms text fed in chunks of any size, the lines
// ("ADDRESS TYPE NAME [MODULE]") that name one of `names`. Lines that are
// malformed or absurdly long are skipped. A name counts as found only on a
// line BCC would take (not a data symbol, not address 0), so stopping there
// cannot change BCC's answer.
class KsymLinePicker {
 public:
  explicit KsymLinePicker(std::vector<std::string> names);
  void feed(std::string_view chunk);
  // Takes a last line that has no newline.
  void finish();
  // Every name has been seen (the rest of the file can be skipped).
  bool all_found() const { return found_.size() == names_.size(); }
  const std::string &lines() const { return lines_; }

 private:
  void take_line(std::string_view line);

  std::vector<std::string> names_;
  std::vector<std::string> found_;
  std::string partial_;  // a line split across chunks
  bool overlong_ = false;
  std::string lines_;
};

// The lines of `path` (a kallsyms file) that name one of `names`, reading
// only as far as BCC would need to find them all. False when the file
// cannot be read (then BCC should read it itself).
bool read_ksym_lines(const std::string &path,
                     const std::vector<std::string> &names, std::string *lines);

// Runs `fn` on a thread of its own on which /proc/kallsyms reads as `lines`.
// The thread takes a private mount namespace (mounts propagate neither to
// nor from the host's), writes `lines` to a file on a tmpfs of its own and
// binds that file over /proc/kallsyms; namespace, mounts and file vanish
// when the thread ends, and the rest of the process never sees them. When a
// step fails (no CAP_SYS_ADMIN, a chroot, no tmpfs), `fn` runs all the same
// on that thread, seeing the real file. Returns the step that failed, or "".
// An exception from `fn` is rethrown here.
std::string run_with_kallsyms(const std::string &lines,
                              const std::function<void()> &fn);

}  // namespace pidtree
