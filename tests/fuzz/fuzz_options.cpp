// The command line: the input split at NUL bytes into arguments. Every
// argv is either run or refused with one line (exit status 2), or it is
// --help or --version; nothing throws.
#include <exception>
#include <string>
#include <vector>

#include "config/options.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace pidtree;
  std::vector<std::string> args{"pidtree-bcc"};
  std::string cur;
  for (size_t i = 0; i < size && args.size() < 64; i++) {
    if (data[i] == 0) {
      args.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(data[i]));
    }
  }
  if (!cur.empty())
    args.push_back(cur);
  std::vector<const char *> argv;
  for (const std::string &a : args)
    argv.push_back(a.c_str());
  argv.push_back(nullptr);
  ParseResult r;
  try {
    r = parse_options(static_cast<int>(args.size()), argv.data());
  } catch (const std::exception &e) {
    fuzz::fail("parse_options threw", e.what());
  }
  if (r.action == ParseResult::Action::kExit && r.exit_code != 0) {
    FUZZ_CHECK(r.exit_code == 2, std::to_string(r.exit_code));
    FUZZ_CHECK(!r.err.empty(), "a refusal without a reason");
    FUZZ_CHECK(r.err.find('\n') == r.err.size() - 1 ||
                   r.err.find('\n') == std::string::npos,
               r.err);
  }
  return 0;
}
