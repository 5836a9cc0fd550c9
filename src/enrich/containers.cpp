#include "enrich/containers.h"

#include <dirent.h>
#include <sys/stat.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "output/json.h"
#include "process/procfs.h"

namespace pidtree {

namespace {

constexpr size_t kMaxStateFile = 8 << 20;  // a config.v2.json is ~10 kB
constexpr size_t kMaxText = 4096;
constexpr size_t kMaxLabels = 256;
constexpr int kMaxDepth = 12;

bool is_hex_id(const std::string &s, size_t at) {
  if (s.size() < at + 64)
    return false;
  for (size_t i = at; i < at + 64; ++i) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  }
  return true;
}

std::string cut(std::string s) {
  if (s.size() > kMaxText)
    s.resize(kMaxText);
  return s;
}

// A string member of a JSON object, or "" (absent, or not a string).
std::string text_of(const nlohmann::json &j, const char *key) {
  if (!j.is_object())
    return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? cut(it->get<std::string>()) : "";
}

std::map<std::string, std::string> labels_of(const nlohmann::json &j) {
  std::map<std::string, std::string> out;
  if (!j.is_object())
    return out;
  for (auto it = j.begin(); it != j.end() && out.size() < kMaxLabels; ++it)
    if (it.value().is_string())
      out[cut(it.key())] = cut(it.value().get<std::string>());
  return out;
}

std::optional<nlohmann::json> parse(const std::string &text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded())
    return std::nullopt;
  return j;
}

bool read_state(const std::string &path, std::string *text) {
  bool truncated = false;
  return read_file(path, kMaxStateFile, text, &truncated) == FileRead::kOk &&
         !truncated;
}

uint64_t file_version(const std::string &path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0)
    return 0;
  return (static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000000ull +
          static_cast<uint64_t>(st.st_mtim.tv_nsec)) ^
         (static_cast<uint64_t>(st.st_size) << 1) ^ 1;
}

void walk_dir(const std::string &root, const std::string &rel, int depth,
              std::vector<CgroupTree::Dir> *out) {
  if (depth > kMaxDepth)
    return;
  std::string dir = rel.empty() ? root : root + "/" + rel;
  DIR *d = opendir(dir.c_str());
  if (!d)
    return;
  while (dirent *e = readdir(d)) {
    if (e->d_type != DT_DIR || e->d_name[0] == '.')
      continue;
    std::string child = rel.empty() ? e->d_name : rel + "/" + e->d_name;
    struct stat st {};
    if (stat((root + "/" + child).c_str(), &st) == 0)
      out->push_back({child, static_cast<uint64_t>(st.st_ino)});
    walk_dir(root, child, depth + 1, out);
  }
  closedir(d);
}

}  // namespace

namespace {

// The container id and runtime one directory name says, if any.
std::optional<CgroupName> container_of_name(const std::string &name,
                                            const std::string &parent) {
  static const std::pair<const char *, const char *> kPrefixes[] = {
      {"docker-", "docker"},
      {"libpod-", "podman"},
      {"cri-containerd-", "containerd"},
      {"crio-", "crio"},
      {"", ""},
  };
  for (const auto &[prefix, runtime] : kPrefixes) {
    size_t n = std::strlen(prefix);
    if (name.compare(0, n, prefix) != 0 || !is_hex_id(name, n))
      continue;
    std::string rest = name.substr(n + 64);
    if (!rest.empty() && rest != ".scope")
      continue;
    std::string rt = runtime;
    // Docker with cgroupfs: docker/<id>.
    if (rt.empty() && parent == "docker")
      rt = "docker";
    return CgroupName{name.substr(n, 64), rt};
  }
  return std::nullopt;
}

}  // namespace

std::optional<CgroupName> container_of_cgroup(const std::string &path) {
  // The deepest directory that names a container: a container's own
  // sub-cgroups (systemd in it, docker/<id>/init.scope) are its.
  std::vector<std::string> parts;
  size_t at = 0;
  while (at <= path.size()) {
    size_t slash = path.find('/', at);
    parts.push_back(path.substr(
        at, slash == std::string::npos ? std::string::npos : slash - at));
    if (slash == std::string::npos)
      break;
    at = slash + 1;
  }
  for (size_t i = parts.size(); i-- > 0;)
    if (auto c = container_of_name(parts[i], i > 0 ? parts[i - 1] : ""))
      return c;
  return std::nullopt;
}

std::vector<CgroupTree::Dir> CgroupFs::dirs() {
  std::vector<Dir> out;
  struct stat st {};
  if (stat(root_.c_str(), &st) == 0)
    out.push_back({"", static_cast<uint64_t>(st.st_ino)});
  walk_dir(root_, "", 0, &out);
  return out;
}

uint64_t CgroupFs::inode(const std::string &path) {
  struct stat st {};
  if (stat((root_ + "/" + path).c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return 0;
  return static_cast<uint64_t>(st.st_ino);
}

std::optional<std::string> CgroupFs::path_of(uint32_t pid) {
  std::string text;
  bool truncated = false;
  if (read_file(proc_ + "/" + std::to_string(pid) + "/cgroup", 1 << 16, &text,
                &truncated) != FileRead::kOk)
    return std::nullopt;
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    std::string line = text.substr(at, nl == std::string::npos ? nl : nl - at);
    if (line.compare(0, 3, "0::") == 0) {
      std::string path = line.substr(3);
      while (!path.empty() && path[0] == '/')
        path.erase(0, 1);
      return path;
    }
    if (nl == std::string::npos)
      break;
    at = nl + 1;
  }
  return std::nullopt;
}

std::optional<Container> parse_docker_config(const std::string &text,
                                             const std::string &id) {
  auto j = parse(text);
  if (!j || !j->is_object())
    return std::nullopt;
  Container c;
  c.id = id;
  c.runtime = "docker";
  c.name = text_of(*j, "Name");
  if (!c.name.empty() && c.name[0] == '/')
    c.name.erase(0, 1);
  auto config = j->find("Config");
  if (config != j->end() && config->is_object()) {
    c.image = text_of(*config, "Image");
    auto labels = config->find("Labels");
    if (labels != config->end())
      c.labels = labels_of(*labels);
  }
  // As upstream: containerd-managed pods name themselves by a label.
  if (c.name.empty()) {
    auto it = c.labels.find("io.kubernetes.pod.name");
    if (it != c.labels.end())
      c.name = it->second;
  }
  return c;
}

std::optional<Container> parse_podman_containers(const std::string &text,
                                                 const std::string &id) {
  auto j = parse(text);
  if (!j || !j->is_array())
    return std::nullopt;
  for (const auto &entry : *j) {
    if (text_of(entry, "id") != id)
      continue;
    Container c;
    c.id = id;
    c.runtime = "podman";
    auto names = entry.find("names");
    if (names != entry.end() && names->is_array() && !names->empty() &&
        (*names)[0].is_string())
      c.name = cut((*names)[0].get<std::string>());
    // The image's name is in the metadata, a JSON text of its own.
    if (auto meta = parse(text_of(entry, "metadata")))
      c.image = text_of(*meta, "image-name");
    if (c.image.empty())
      c.image = text_of(entry, "image");
    return c;
  }
  return std::nullopt;
}

std::optional<Container> parse_oci_config(const std::string &text,
                                          const std::string &id) {
  auto j = parse(text);
  if (!j || !j->is_object())
    return std::nullopt;
  Container c;
  c.id = id;
  c.runtime = "containerd";
  auto annotations = j->find("annotations");
  if (annotations != j->end())
    c.labels = labels_of(*annotations);
  for (const char *key :
       {"io.kubernetes.pod.name", "io.kubernetes.cri.sandbox-name"}) {
    auto it = c.labels.find(key);
    if (it != c.labels.end() && c.name.empty())
      c.name = it->second;
  }
  auto image = c.labels.find("io.kubernetes.cri.image-name");
  if (image != c.labels.end())
    c.image = image->second;
  return c;
}

std::optional<Container> RuntimeFiles::read(const std::string &id,
                                            const std::string &runtime) {
  // Each runtime's state file for the container, and its parser.
  using Parser =
      std::optional<Container> (*)(const std::string &, const std::string &);
  const struct {
    const char *runtime;
    std::string path;
    Parser parse;
  } kinds[] = {
      {"docker", roots_.docker + "/containers/" + id + "/config.v2.json",
       parse_docker_config},
      {"podman", roots_.podman + "/overlay-containers/containers.json",
       parse_podman_containers},
      {"containerd",
       roots_.containerd + "/io.containerd.runtime.v2.task/k8s.io/" + id +
           "/config.json",
       parse_oci_config},
  };
  std::string text;
  for (const auto &kind : kinds) {
    if (!runtime.empty() && runtime != kind.runtime)
      continue;
    if (!read_state(kind.path, &text))
      continue;
    if (auto c = kind.parse(text, id)) {
      c->state_file = kind.path;
      return c;
    }
  }
  return std::nullopt;
}

uint64_t RuntimeFiles::version(const Container &c) {
  return file_version(c.state_file);
}

void ContainerRegistry::remember(uint64_t cgroup_id, Entry entry) {
  if (by_cgroup_.size() >= max_cgroups_ && !by_cgroup_.count(cgroup_id)) {
    // Full: host cgroups go first (they are found again by a walk).
    for (auto it = by_cgroup_.begin(); it != by_cgroup_.end();) {
      if (it->second.path.empty())
        it = by_cgroup_.erase(it);
      else
        ++it;
    }
    if (by_cgroup_.size() >= max_cgroups_)
      return;
  }
  by_cgroup_[cgroup_id] = std::move(entry);
}

bool ContainerRegistry::resolve(Entry *e) {
  auto name = container_of_cgroup(e->path);
  auto c = name ? state_.read(name->id, name->runtime) : std::nullopt;
  if (!c) {
    e->retry = Clock::now() + std::chrono::seconds(1);
    return false;
  }
  e->version = state_.version(*c);
  e->container = std::make_shared<const Container>(std::move(*c));
  return true;
}

void ContainerRegistry::walk() {
  ++walks_;
  last_walk_.clear();
  for (const auto &dir : tree_.dirs()) {
    last_walk_.push_back(dir.inode);
    if (!container_of_cgroup(dir.path))
      continue;
    auto known = by_cgroup_.find(dir.inode);
    if (known != by_cgroup_.end() &&
        (known->second.container || !known->second.path.empty()))
      continue;
    Entry e;
    e.path = dir.path;
    resolve(&e);  // without metadata yet: kept, asked again later
    remember(dir.inode, std::move(e));
  }
}

std::shared_ptr<const Container> ContainerRegistry::lookup(uint64_t cgroup_id) {
  if (cgroup_id == 0)
    return nullptr;
  auto it = by_cgroup_.find(cgroup_id);
  if (it != by_cgroup_.end()) {
    Entry &e = it->second;
    if (!e.container && !e.path.empty() && Clock::now() >= e.retry)
      resolve(&e);
    return e.container;
  }
  walk();
  it = by_cgroup_.find(cgroup_id);
  if (it != by_cgroup_.end())
    return it->second.container;
  // A host cgroup (or one no runtime knows): remembered as such.
  remember(cgroup_id, Entry{});
  return nullptr;
}

std::shared_ptr<const Container> ContainerRegistry::learn(
    uint64_t cgroup_id, const std::string &path) {
  Entry e;
  if (container_of_cgroup(path)) {
    e.path = path;
    resolve(&e);
  }
  auto c = e.container;
  remember(cgroup_id, std::move(e));
  return c;
}

std::shared_ptr<const Container> ContainerRegistry::lookup_pid(uint32_t pid) {
  auto path = tree_.path_of(pid);
  if (!path)
    return nullptr;
  uint64_t inode = tree_.inode(*path);
  if (inode != 0)
    return lookup(inode);
  return nullptr;
}

std::vector<std::pair<uint64_t, std::shared_ptr<const Container>>>
ContainerRegistry::all() {
  walk();
  std::vector<std::pair<uint64_t, std::shared_ptr<const Container>>> out;
  for (uint64_t id : last_walk_) {
    auto it = by_cgroup_.find(id);
    out.emplace_back(id,
                     it != by_cgroup_.end() ? it->second.container : nullptr);
  }
  return out;
}

std::vector<uint64_t> ContainerRegistry::sweep(Clock::time_point now,
                                               Clock::duration every) {
  std::vector<uint64_t> gone;
  if (now - last_sweep_ < every)
    return gone;
  last_sweep_ = now;
  for (auto it = by_cgroup_.begin(); it != by_cgroup_.end();) {
    Entry &e = it->second;
    if (e.path.empty()) {
      ++it;
      continue;
    }
    if (tree_.inode(e.path) != it->first) {
      gone.push_back(it->first);
      it = by_cgroup_.erase(it);
      continue;
    }
    if (!e.container) {
      ++it;
      continue;
    }
    uint64_t version = state_.version(*e.container);
    if (version != e.version) {
      auto name = container_of_cgroup(e.path);
      if (auto c = name ? state_.read(name->id, e.container->runtime)
                        : std::nullopt) {
        e.container = std::make_shared<const Container>(std::move(*c));
        e.version = state_.version(*e.container);
      } else {
        e.version = version;  // unreadable now: keep what it was
      }
    }
    ++it;
  }
  return gone;
}

std::string container_fields(const Container &c) {
  std::string out;
  out.append(",\"container_name\":");
  append_json_string(&out, c.name);
  out.append(",\"container_id\":");
  append_json_string(&out, c.id);
  out.append(",\"container_runtime\":");
  append_json_string(&out, c.runtime);
  out.append(",\"container_image\":");
  append_json_string(&out, c.image);
  out.append(",\"container_labels\":{");
  bool first = true;
  for (const auto &[k, v] : c.labels) {
    if (!first)
      out.push_back(',');
    first = false;
    append_json_string(&out, k);
    out.push_back(':');
    append_json_string(&out, v);
  }
  out.push_back('}');
  return out;
}

}  // namespace pidtree
