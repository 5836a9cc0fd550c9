// Container attribution: the cgroup the kernel reports at an event (the
// inode of the task's cgroup v2 directory) -> the container, from the
// runtime's own state on disk (never a CLI call per event).
//
// A cgroup is looked up in the cgroup tree the first time an event names
// it (a new container is attributed from its first event); the directories
// of known containers are checked every few seconds, so containers that
// are gone are forgotten, and their metadata is read again when its file
// changed (a renamed container).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace pidtree {

struct Container {
  std::string id;       // 64 hex digits
  std::string name;     // upstream's container_name
  std::string runtime;  // "docker", "podman" or "containerd"
  std::string image;
  std::map<std::string, std::string> labels;
  std::string state_file;  // the metadata file it was read from
};

// The cgroup v2 tree (system access; a fixture directory in tests).
class CgroupTree {
 public:
  virtual ~CgroupTree() = default;
  struct Dir {
    std::string path;  // relative to the root, e.g. "docker/<id>"
    uint64_t inode = 0;
  };
  // Every directory of the tree, the root ("") first.
  virtual std::vector<Dir> dirs() = 0;
  // The inode of a directory (relative path), or 0 when gone.
  virtual uint64_t inode(const std::string &path) = 0;
  // The cgroup v2 path of a process (/proc/PID/cgroup's "0::" line), or
  // nullopt.
  virtual std::optional<std::string> path_of(uint32_t pid) = 0;
};

// Walks a cgroup v2 mount (the one the tracer attaches through).
class CgroupFs : public CgroupTree {
 public:
  CgroupFs(std::string root, std::string proc = "/proc")
      : root_(std::move(root)), proc_(std::move(proc)) {}
  std::vector<Dir> dirs() override;
  uint64_t inode(const std::string &path) override;
  std::optional<std::string> path_of(uint32_t pid) override;

 private:
  std::string root_;
  std::string proc_;
};

// The container id and runtime a cgroup directory's path says, from its
// deepest component that names one: "<id>" (docker with cgroupfs,
// kubepods), "docker-<id>.scope", "libpod-<id>[.scope]",
// "cri-containerd-<id>.scope", "crio-<id>.scope"; so a container's own
// sub-cgroups are its. `runtime` is "" when the name does not tell (a bare
// id outside docker/).
struct CgroupName {
  std::string id;
  std::string runtime;
};
std::optional<CgroupName> container_of_cgroup(const std::string &path);

// Reads a container's metadata from the runtimes' state directories.
class RuntimeState {
 public:
  virtual ~RuntimeState() = default;
  // `runtime` "" tries each. nullopt when no runtime knows the id.
  virtual std::optional<Container> read(const std::string &id,
                                        const std::string &runtime) = 0;
  // A value that changes when the container's metadata file changes
  // (mtime and size), 0 when the file is gone.
  virtual uint64_t version(const Container &c) = 0;
};

// Docker: DOCKER/containers/<id>/config.v2.json. Podman:
// PODMAN/overlay-containers/containers.json (names, image; podman keeps
// labels only in its bolt database, so they are empty). containerd (CRI):
// CONTAINERD/io.containerd.runtime.v2.task/k8s.io/<id>/config.json, its OCI
// annotations as labels and the pod name (io.kubernetes.pod.name, or
// io.kubernetes.cri.sandbox-name) as the name.
class RuntimeFiles : public RuntimeState {
 public:
  struct Roots {
    std::string docker = "/var/lib/docker";
    std::string podman = "/var/lib/containers/storage";
    std::string containerd = "/run/containerd";
  };
  explicit RuntimeFiles(Roots roots) : roots_(std::move(roots)) {}
  std::optional<Container> read(const std::string &id,
                                const std::string &runtime) override;
  uint64_t version(const Container &c) override;

 private:
  Roots roots_;
};

// Parsers of each runtime's file (nullopt: not valid metadata). Bounded:
// a name, image or label longer than 4 KiB is cut, at most 256 labels.
std::optional<Container> parse_docker_config(const std::string &text,
                                             const std::string &id);
std::optional<Container> parse_podman_containers(const std::string &text,
                                                 const std::string &id);
std::optional<Container> parse_oci_config(const std::string &text,
                                          const std::string &id);

class ContainerRegistry {
 public:
  using Clock = std::chrono::steady_clock;
  ContainerRegistry(CgroupTree &tree, RuntimeState &state,
                    size_t max_cgroups = 65536)
      : tree_(tree), state_(state), max_cgroups_(max_cgroups) {}

  // The container of a cgroup, nullptr for a host cgroup (or unknown).
  // A cgroup not seen before makes one walk of the tree.
  std::shared_ptr<const Container> lookup(uint64_t cgroup_id);
  // A cgroup the kernel says was made, with its path: a container's is
  // read now (its runtime wrote the metadata before making the cgroup).
  std::shared_ptr<const Container> learn(uint64_t cgroup_id,
                                         const std::string &path);
  // One the kernel says was removed.
  void forget(uint64_t cgroup_id) { by_cgroup_.erase(cgroup_id); }
  // By a process (its /proc/PID/cgroup), for events without a cgroup id.
  std::shared_ptr<const Container> lookup_pid(uint32_t pid);
  // Every cgroup the tree has now, with its container (null for the
  // host's), for the kernel's filter.
  std::vector<std::pair<uint64_t, std::shared_ptr<const Container>>> all();
  // Forgets containers whose cgroup is gone, re-reads changed metadata;
  // at most every `every`. Returns the cgroups forgotten.
  std::vector<uint64_t> sweep(Clock::time_point now,
                              Clock::duration every = std::chrono::seconds(2));

  size_t size() const { return by_cgroup_.size(); }
  uint64_t walks() const { return walks_; }

 private:
  struct Entry {
    // null: a host cgroup, or (path set) a container's whose metadata no
    // runtime had yet: asked again at an event after `retry`.
    std::shared_ptr<const Container> container;
    std::string path;
    uint64_t version = 0;
    Clock::time_point retry{};
  };
  void walk();
  // Reads the metadata of a container cgroup into `e`; false if none.
  bool resolve(Entry *e);
  void remember(uint64_t cgroup_id, Entry entry);

  CgroupTree &tree_;
  RuntimeState &state_;
  size_t max_cgroups_;
  std::unordered_map<uint64_t, Entry> by_cgroup_;
  std::vector<uint64_t> last_walk_;  // every cgroup the last walk found
  Clock::time_point last_sweep_{};
  uint64_t walks_ = 0;
};

// The container's fields on a line, rendered: ,"container_name":...,
// "container_id", "container_runtime", "container_image",
// "container_labels": {...}.
std::string container_fields(const Container &c);

}  // namespace pidtree
