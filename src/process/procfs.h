// Reading processes from /proc (or a fixture tree laid out like it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pidtree {

struct ProcessInfo {
  uint32_t pid = 0;
  uint32_t ppid = 0;
  uint32_t uid = 0;     // real uid
  std::string name;     // the kernel's comm, from status
  bool exited = false;  // a zombie: its argv is already gone
  std::string cmdline;
  // /proc/PID/loginuid; 4294967295 (none) when unset, absent or odd.
  uint32_t loginuid = 0xffffffffu;
};

enum class ReadStatus { kOk, kGone, kUnreadable };

class ProcessSource {
 public:
  virtual ~ProcessSource() = default;
  virtual ReadStatus read(uint32_t pid, ProcessInfo *out) = 0;
  // Start time on the boot clock (ns, clock-tick resolution); 0 if gone.
  virtual uint64_t start_time_ns(uint32_t pid) = 0;
  // Every process (thread group) now.
  virtual std::vector<uint32_t> list_pids() = 0;
  // Its audit login uid now (4294967295: none, or gone).
  virtual uint32_t loginuid(uint32_t pid) {
    (void)pid;
    return 0xffffffffu;
  }
};

class ProcFs : public ProcessSource {
 public:
  explicit ProcFs(std::string root = "/proc") : root_(std::move(root)) {}
  ReadStatus read(uint32_t pid, ProcessInfo *out) override;
  uint64_t start_time_ns(uint32_t pid) override;
  std::vector<uint32_t> list_pids() override;
  uint32_t loginuid(uint32_t pid) override;

 private:
  std::string root_;
};

// Reads at most `limit` bytes of a regular file into `out`; `cut` says
// there was more. kMissing when the file (or its process) is gone; kError
// for anything else, a FIFO, device or directory included (opened without
// blocking, never read). `why`, when given, says why in a few words.
enum class FileRead { kOk, kMissing, kError };
FileRead read_file(const std::string &path, size_t limit, std::string *out,
                   bool *cut, std::string *why = nullptr);

// Longest command line kept; longer ones end in kCmdlineCutMarker.
inline constexpr size_t kMaxCmdline = 1 << 20;
inline constexpr char kCmdlineCutMarker[] = "...[truncated]";

// argv as the kernel stores it (NUL separated) -> joined by spaces.
std::string join_cmdline(const std::string &raw);

// Parses the fields we use from /proc/PID/status text; false if malformed.
bool parse_status(const std::string &text, ProcessInfo *out);

// /proc/PID/loginuid text: a decimal uid; nullopt if malformed.
std::optional<uint32_t> parse_loginuid(const std::string &text);

// Numeric field `field` (numbered as in proc(5), 3 or more) of
// /proc/PID/stat text; the command name in parentheses may itself hold
// spaces and ')'. False for a missing or non-decimal field.
bool parse_stat_field(const std::string &text, int field, uint64_t *value);
// Field 22 (starttime, clock ticks since boot).
inline bool parse_stat_start_ticks(const std::string &text, uint64_t *ticks) {
  return parse_stat_field(text, 22, ticks);
}

}  // namespace pidtree
