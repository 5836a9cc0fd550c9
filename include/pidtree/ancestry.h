// Ancestry: the chain of processes from the connecting one up to pid 1.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pidtree/decode.h"
#include "pidtree/procfs.h"
#include "pidtree/users.h"

namespace pidtree {

struct ProcNode {
  uint32_t pid = 0;
  std::string cmdline;
  std::string username;
};

struct Ancestry {
  std::vector<ProcNode> tree;  // connecting process first
  std::string error;           // "" or why the tree is incomplete
};

class AncestryResolver {
 public:
  virtual ~AncestryResolver() = default;
  virtual Ancestry resolve(const ConnectEvent &event) = 0;
};

// Walks /proc when the event is handled. Racy by nature: a process that
// exited (or whose pid was reused) since the connect yields a partial tree
// with `error` saying so.
class ProcAncestry : public AncestryResolver {
 public:
  ProcAncestry(ProcessSource &source, UserDb &users)
      : source_(source), users_(users) {}
  Ancestry resolve(const ConnectEvent &event) override;

 private:
  ProcessSource &source_;
  UserDb &users_;
};

}  // namespace pidtree
