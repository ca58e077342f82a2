#include "helper/cgroup_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/units.h"

namespace guardian::helper {
namespace {

constexpr std::size_t kMaxCachedPaths = 16384;
constexpr std::size_t kWalkBudget = 20000;  // directories per search
constexpr auto kMissRetry = std::chrono::seconds(1);

uint64_t inode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
  return st.st_ino;
}

bool is_cgroup2(const std::string& path) {
  struct statfs fs {};
  return ::statfs(path.c_str(), &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

// "user-1000.slice" -> 1000
std::optional<uid_t> uid_from(std::string_view name, std::string_view prefix, std::string_view suffix) {
  if (name.size() <= prefix.size() + suffix.size() || !name.starts_with(prefix) || !name.ends_with(suffix)) {
    return std::nullopt;
  }
  auto number = parse_u64(name.substr(prefix.size(), name.size() - prefix.size() - suffix.size()));
  if (!number || *number > 0xfffffffeULL) return std::nullopt;
  return static_cast<uid_t>(*number);
}

bool recently_missed(std::unordered_map<uint64_t, std::chrono::steady_clock::time_point>& misses,
                     uint64_t id) {
  const auto now = std::chrono::steady_clock::now();
  auto it = misses.find(id);
  if (it != misses.end() && now - it->second < kMissRetry) return true;
  if (misses.size() > 4096) misses.clear();
  misses[id] = now;
  return false;
}

}  // namespace

Result<std::string> CgroupTree::find_cgroup2_mount() {
  for (const char* candidate : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
    if (is_cgroup2(candidate)) return std::string(candidate);
  }
  return make_error("no cgroup2 file system at /sys/fs/cgroup or /sys/fs/cgroup/unified");
}

Result<CgroupTree> CgroupTree::open(std::string root, std::string scope) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (!is_cgroup2(root)) return make_error(root + ": not a cgroup2 mount");
  if (scope.empty() || scope.front() != '/') scope.insert(scope.begin(), '/');
  while (scope.size() > 1 && scope.back() == '/') scope.pop_back();
  if (scope != "/" && !is_within(scope, "/"))
    return make_error("scope '" + scope + "' is not a plain cgroup path");
  CgroupTree tree;
  tree.root_ = std::move(root);
  tree.scope_ = scope == "/" ? "" : scope;
  tree.scope_id_ = inode_of(tree.root_ + tree.scope_);
  if (tree.scope_id_ == 0) return make_error("scope cgroup " + tree.root_ + tree.scope_ + " does not exist");
  for (char c : tree.scope_) tree.scope_level_ += c == '/' ? 1 : 0;
  tree.scan_owners();
  return tree;
}

std::string CgroupTree::owner_path(uid_t uid) const {
  const std::string n = std::to_string(uid);
  return scope_ + "/user-" + n + ".slice/user@" + n + ".service";
}

uint64_t CgroupTree::owner_id(uid_t uid) const { return inode_of(root_ + owner_path(uid)); }

void CgroupTree::scan_owners() {
  owners_.clear();
  const std::string scope_dir = root_ + scope_;
  DIR* dir = ::opendir(scope_dir.c_str());
  if (!dir) return;
  while (const dirent* entry = ::readdir(dir)) {
    auto uid = uid_from(entry->d_name, "user-", ".slice");
    if (!uid) continue;
    const uint64_t id = owner_id(*uid);
    if (id != 0) owners_[id] = *uid;
  }
  ::closedir(dir);
}

std::optional<uid_t> CgroupTree::owner_uid(uint64_t owner_cgroup_id) {
  if (owner_cgroup_id == 0) return std::nullopt;
  if (auto it = owners_.find(owner_cgroup_id); it != owners_.end()) return it->second;
  if (recently_missed(misses_, owner_cgroup_id)) return std::nullopt;
  scan_owners();
  if (auto it = owners_.find(owner_cgroup_id); it != owners_.end()) return it->second;
  return std::nullopt;
}

std::optional<uid_t> CgroupTree::owner_uid_of_path(std::string_view path) const {
  if (!is_within(path, scope_.empty() ? "/" : scope_)) return std::nullopt;
  std::string_view rest = path.substr(scope_.size());
  // rest = "/user-1000.slice/user@1000.service[/...]"
  if (!rest.starts_with('/')) return std::nullopt;
  rest.remove_prefix(1);
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto slice_uid = uid_from(rest.substr(0, slash), "user-", ".slice");
  rest.remove_prefix(slash + 1);
  const std::string_view service = rest.substr(0, rest.find('/'));
  auto service_uid = uid_from(service, "user@", ".service");
  if (!slice_uid || !service_uid || *slice_uid != *service_uid) return std::nullopt;
  return slice_uid;
}

void CgroupTree::walk(const std::string& cgroup_path, std::size_t& budget) {
  const std::string dir_path = root_ + cgroup_path;
  DIR* dir = ::opendir(dir_path.c_str());
  if (!dir) return;
  const int dir_fd = ::dirfd(dir);
  std::vector<std::string> children;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_type != DT_DIR && entry->d_type != DT_UNKNOWN) continue;
    const std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(dir_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) continue;
    if (budget == 0) break;
    --budget;
    std::string child = cgroup_path + "/" + entry->d_name;
    if (paths_.size() >= kMaxCachedPaths) paths_.clear();
    paths_[st.st_ino] = child;
    children.push_back(std::move(child));
  }
  ::closedir(dir);
  for (const auto& child : children) {
    if (budget == 0) return;
    walk(child, budget);
  }
}

std::string CgroupTree::path_of(uint64_t cgroup_id, std::optional<uid_t> owner) {
  if (cgroup_id == 0) return {};
  // A cached path stays right: cgroup2 ids are not reused within a boot (kernfs hands out 64-bit
  // ids, a generation above the inode number) and cgroup2 directories cannot be renamed. A
  // removed cgroup's entry only takes room until the cache is cleared.
  if (auto it = paths_.find(cgroup_id); it != paths_.end()) return it->second;
  if (cgroup_id == scope_id_) return scope_.empty() ? "/" : scope_;
  if (recently_missed(misses_, cgroup_id)) return {};
  std::size_t budget = kWalkBudget;
  const std::string base = owner ? owner_path(*owner) : scope_;
  if (owner) {
    const uint64_t owner_dir = owner_id(*owner);
    if (owner_dir != 0) paths_[owner_dir] = base;
  }
  walk(base, budget);
  if (auto it = paths_.find(cgroup_id); it != paths_.end()) {
    misses_.erase(cgroup_id);
    return it->second;
  }
  return {};
}

bool CgroupTree::is_within(std::string_view path, std::string_view base) {
  if (path.empty() || path.front() != '/') return false;
  // Every component non-empty, not "." or "..", printable.
  std::size_t start = 1;
  if (path != "/") {
    while (start <= path.size()) {
      const std::size_t end = std::min(path.find('/', start), path.size());
      const std::string_view part = path.substr(start, end - start);
      if (part.empty() || part == "." || part == "..") return false;
      for (char c : part) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
      }
      start = end + 1;
    }
  }
  if (base == "/" || base.empty()) return true;
  return path == base || (path.starts_with(base) && path[base.size()] == '/');
}

}  // namespace guardian::helper
