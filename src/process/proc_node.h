// One process of a tree as reported: pid, command line, user name.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace pidtree {

struct ProcNode {
  ProcNode() = default;
  ProcNode(uint32_t pid_in, std::string cmdline_in, std::string username_in,
           uint32_t loginuid_in = 0xffffffffu, std::string loginname_in = "")
      : pid(pid_in),
        cmdline(std::move(cmdline_in)),
        username(std::move(username_in)),
        loginuid(loginuid_in),
        loginname(std::move(loginname_in)) {}

  uint32_t pid = 0;
  std::string cmdline;
  std::string username;
  uint32_t loginuid = 0xffffffffu;  // audit login uid; 4294967295: none
  std::string loginname;            // its user name
  // The node as JSON, rendered once by the output stage and reused: the
  // process table hands out the same node for every event of a process.
  // `login_json` is the same with loginuidmap's fields.
  mutable std::string json;
  mutable std::string login_json;
};

// A shared, immutable ProcNode that reads like one (tree[i].cmdline): trees
// share the process table's nodes instead of copying their strings.
class NodeRef {
 public:
  NodeRef(ProcNode node)  // NOLINT: implicit, so trees take plain nodes too
      : NodeRef(std::make_shared<const ProcNode>(std::move(node))) {}
  explicit NodeRef(std::shared_ptr<const ProcNode> node)
      : node_(std::move(node)),
        pid(node_->pid),
        cmdline(node_->cmdline),
        username(node_->username) {}
  NodeRef(const NodeRef &o) : NodeRef(o.node_) {}
  NodeRef &operator=(const NodeRef &) = delete;

  const ProcNode &node() const { return *node_; }

 private:
  std::shared_ptr<const ProcNode> node_;

 public:
  const uint32_t &pid;
  const std::string &cmdline;
  const std::string &username;
};

}  // namespace pidtree
