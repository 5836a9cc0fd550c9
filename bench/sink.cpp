// The reader at the end of the tracer's output pipe in bench/run.py's
// storms, standing in for `pidtree-bcc | jq` at the cost of a `wc -l`:
// counts lines, the lines holding PATTERN, and lost_events records, keeps
// the first SAMPLE_N lines holding PATTERN in SAMPLE_FILE (for tree depth
// and line size), and prints one JSON object of figures at end of input.
//
// Reading a pipe keeps the memory of the output warm (pipe pages are
// recycled), where a file in tmpfs took fresh pages for every byte: in this
// VM the first touch of a guest page is several times slower than the next
// (dd of 2 GB to /dev/shm: 840 MB/s, then 5.0 GB/s), which made the
// tracer's CPU per event depend on the history of the host's memory.
//
//   sink PATTERN SAMPLE_FILE SAMPLE_N < output
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr char kLost[] = "\"type\":\"lost_events\"";
constexpr size_t kHead = 512;

struct Counts {
  uint64_t bytes = 0;
  uint64_t lines = 0;
  uint64_t matches = 0;
  uint64_t lost_lines = 0;
  long long last_lost_total = 0;
};

class Scanner {
 public:
  Scanner(std::string pattern, FILE *sample, long sample_n)
      : pattern_(std::move(pattern)), sample_(sample), sample_left_(sample_n) {}

  // Whole lines only (or the final partial one at end of input). Both
  // markers sit in a line's first kHead bytes (the tracer writes daddr and
  // port before the process tree; see docs/fields.md), so only
  // those are searched; a marker further on would be missed and show as
  // events not written, never as events written that were not.
  void scan(const char *p, size_t n) {
    const char *end = p + n;
    while (p < end) {
      const void *nl = std::memchr(p, '\n', static_cast<size_t>(end - p));
      const char *le = nl ? static_cast<const char *>(nl) : end;
      size_t head = std::min(static_cast<size_t>(le - p), kHead);
      if (memmem(p, head, pattern_.data(), pattern_.size())) {
        ++counts_.matches;
        if (sample_left_ > 0) {
          std::fwrite(p, 1, static_cast<size_t>(le - p), sample_);
          std::fputc('\n', sample_);
          --sample_left_;
        }
      } else if (memmem(p, head, kLost, sizeof(kLost) - 1)) {
        ++counts_.lost_lines;
        std::string line(p, le);
        size_t t = line.find("\"total\":");
        if (t != std::string::npos)
          counts_.last_lost_total = std::atoll(line.c_str() + t + 8);
      }
      if (!nl)
        break;
      ++counts_.lines;
      p = le + 1;
    }
  }

  Counts &counts() { return counts_; }

 private:
  std::string pattern_;
  FILE *sample_;
  long sample_left_;
  Counts counts_;
};

}  // namespace

int main(int argc, char **argv) {
  if (argc != 4 || argv[1][0] == '\0') {
    std::fprintf(stderr, "usage: sink PATTERN SAMPLE_FILE SAMPLE_N < input\n");
    return 2;
  }
  FILE *sample = std::fopen(argv[2], "w");
  if (!sample) {
    std::fprintf(stderr, "sink: cannot write %s: %s\n", argv[2],
                 std::strerror(errno));
    return 1;
  }
  Scanner scanner(argv[1], sample, std::atol(argv[3]));
  std::vector<char> buf(1 << 20);
  size_t have = 0;  // bytes in buf; [0, have) holds no complete line yet
  for (;;) {
    if (have == buf.size())
      buf.resize(buf.size() * 2);  // a very long line
    ssize_t n = read(0, buf.data() + have, buf.size() - have);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      std::fprintf(stderr, "sink: read: %s\n", std::strerror(errno));
      return 1;
    }
    if (n == 0)
      break;
    scanner.counts().bytes += static_cast<uint64_t>(n);
    size_t total = have + static_cast<size_t>(n);
    const void *last = memrchr(buf.data() + have, '\n', static_cast<size_t>(n));
    if (!last) {
      have = total;
      continue;
    }
    size_t whole =
        static_cast<size_t>(static_cast<const char *>(last) - buf.data()) + 1;
    scanner.scan(buf.data(), whole);
    std::memmove(buf.data(), buf.data() + whole, total - whole);
    have = total - whole;
  }
  if (have)
    scanner.scan(buf.data(), have);
  std::fclose(sample);
  const Counts &c = scanner.counts();
  std::printf("{\"bytes\": %" PRIu64 ", \"lines\": %" PRIu64
              ", \"matches\": %" PRIu64 ", \"lost_lines\": %" PRIu64
              ", \"last_lost_total\": %lld}\n",
              c.bytes, c.lines, c.matches, c.lost_lines, c.last_lost_total);
  return 0;
}
