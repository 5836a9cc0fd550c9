#include "kernel/memory.h"

#include <malloc.h>
#include <sys/mman.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace pidtree {

namespace {

// "start-end perms offset dev inode [path]"; false for any other line.
bool parse_header(const std::string &line, Mapping *out, bool *writable) {
  std::istringstream in(line);
  std::string range, perms, offset, dev, inode;
  if (!(in >> range >> perms >> offset >> dev >> inode))
    return false;
  size_t dash = range.find('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == range.size() ||
      perms.size() != 4)
    return false;
  char *end = nullptr;
  std::string lo = range.substr(0, dash), hi = range.substr(dash + 1);
  unsigned long long start = std::strtoull(lo.c_str(), &end, 16);
  if (*end != '\0')
    return false;
  unsigned long long stop = std::strtoull(hi.c_str(), &end, 16);
  if (*end != '\0' || stop <= start)
    return false;
  std::string path;
  std::getline(in >> std::ws, path);
  out->start = static_cast<uintptr_t>(start);
  out->end = static_cast<uintptr_t>(stop);
  out->path = path;
  *writable = perms[1] == 'w';
  return true;
}

}  // namespace

std::vector<Mapping> droppable_mappings(const std::string &smaps,
                                        const std::vector<std::string> &names) {
  std::vector<Mapping> out;
  std::istringstream in(smaps);
  std::string line;
  Mapping current;
  bool have = false;       // a header for `current` was read
  bool candidate = false;  // its file and permissions qualify
  bool anon_seen = false;  // its Anonymous: line was read and is 0
  auto finish = [&] {
    if (have && candidate && anon_seen)
      out.push_back(current);
  };
  while (std::getline(in, line)) {
    Mapping m;
    bool writable = false;
    if (parse_header(line, &m, &writable)) {
      finish();
      current = m;
      have = true;
      anon_seen = false;
      candidate = false;
      if (!writable && !m.path.empty() && m.path[0] == '/')
        for (const auto &name : names)
          if (m.path.find(name) != std::string::npos)
            candidate = true;
      continue;
    }
    if (line.rfind("Anonymous:", 0) == 0) {
      std::istringstream field(line.substr(10));
      unsigned long long kb = 1;
      // Unreadable counts as "has anonymous pages": never drop on doubt.
      anon_seen = static_cast<bool>(field >> kb) && kb == 0;
    }
  }
  finish();
  return out;
}

size_t release_compiler_pages() {
  malloc_trim(0);
  std::ifstream file("/proc/self/smaps");
  std::stringstream text;
  text << file.rdbuf();
  size_t bytes = 0;
  for (const Mapping &m : droppable_mappings(text.str(), kCompilerLibraries))
    if (madvise(reinterpret_cast<void *>(m.start), m.end - m.start,
                MADV_DONTNEED) == 0)
      bytes += m.end - m.start;
  return bytes;
}

}  // namespace pidtree
