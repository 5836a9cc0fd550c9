// The YAML configuration through the real loader: the input is the main
// file, and after a line "#--include--" the file "inc.yml" beside it, which
// the main file may !include (so may the included file, itself included).
// The loader must load it or refuse it with a ConfigError, nothing else.
#include <exception>
#include <string>

#include "config/config.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace pidtree;
  auto [main_text, include_text] = fuzz::split(data, size, "\n#--include--\n");
  const std::string dir = fuzz::scratch_dir();
  fuzz::write_file(dir + "/main.yml",
                   reinterpret_cast<const uint8_t *>(main_text.data()),
                   main_text.size());
  fuzz::write_file(dir + "/inc.yml",
                   reinterpret_cast<const uint8_t *>(include_text.data()),
                   include_text.size());
  try {
    FileConfig config = load_config(dir + "/main.yml");
    for (const auto &[name, section] : config.sections) {
      (void)name;
      section_filters(section);
    }
    combine_filters(&config.section("tcp_connect"), CommandLineFilters{});
  } catch (const ConfigError &e) {
    std::string msg = e.what();
    FUZZ_CHECK(!msg.empty(), "an empty error");
    FUZZ_CHECK(msg.find('\n') == std::string::npos, msg);
  } catch (const InputError &e) {
    // combine_filters' refusal of clashing filters.
    FUZZ_CHECK(std::string(e.what()).find('\n') == std::string::npos, e.what());
  } catch (const std::exception &e) {
    fuzz::fail("only a ConfigError may leave load_config", e.what());
  }
  return 0;
}
