// Where the helper's cgroup ids come from and go to. The probes report cgroup v2 ids (the inode
// number of the cgroup's directory); the helper routes an event to the user whose owner cgroup
// (SCOPE/user-UID.slice/user@UID.service, systemd's fixed layout) lies above it, and tells the
// client the cgroup's path. Both are answered from the cgroup2 mount with stat() and readdir(),
// cached, and re-scanned only when an id is unknown (at most once a second for the same miss),
// so a burst of events for a cgroup that is already gone costs one scan, not one per event.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"

namespace guardian::helper {

class CgroupTree {
 public:
  // root: the cgroup2 mount ("/sys/fs/cgroup"); scope: the watched subtree under it, as a cgroup
  // path ("/user.slice"). The scope must exist.
  static Result<CgroupTree> open(std::string root, std::string scope);
  // The cgroup2 mount of this machine: /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid
  // host (cgroup v1 controllers with v2 mounted beside them).
  static Result<std::string> find_cgroup2_mount();

  [[nodiscard]] const std::string& root() const { return root_; }
  [[nodiscard]] const std::string& scope() const { return scope_; }
  [[nodiscard]] uint64_t scope_id() const { return scope_id_; }
  [[nodiscard]] uint32_t scope_level() const { return scope_level_; }

  // "/user.slice/user-1000.slice/user@1000.service"
  [[nodiscard]] std::string owner_path(uid_t uid) const;
  // The id of uid's owner cgroup now; 0 when it does not exist (no user manager running).
  [[nodiscard]] uint64_t owner_id(uid_t uid) const;
  // The user whose owner cgroup has this id (rescans the scope when the id is new).
  std::optional<uid_t> owner_uid(uint64_t owner_cgroup_id);
  // The user whose owner cgroup holds this cgroup path, from the path alone (systemd-oomd's
  // pre-kill notice names a cgroup that may be gone a moment later).
  [[nodiscard]] std::optional<uid_t> owner_uid_of_path(std::string_view cgroup_path) const;

  // The cgroup path of an id, searched under the owner's cgroup when the owner is known, else
  // under the scope. "" when not found (removed already).
  std::string path_of(uint64_t cgroup_id, std::optional<uid_t> owner);

  // A path relative to the mount, checked to be at or under `base` (both cgroup paths), with no
  // empty, "." or ".." component: what a client may name.
  [[nodiscard]] static bool is_within(std::string_view path, std::string_view base);

 private:
  CgroupTree() = default;
  void scan_owners();
  void walk(const std::string& cgroup_path, std::size_t& budget);

  std::string root_;
  std::string scope_;
  uint64_t scope_id_ = 0;
  uint32_t scope_level_ = 0;

  std::unordered_map<uint64_t, uid_t> owners_;       // owner cgroup id -> uid
  std::unordered_map<uint64_t, std::string> paths_;  // cgroup id -> path
  std::unordered_map<uint64_t, std::chrono::steady_clock::time_point>
      misses_;  // recent lookups that found nothing
};

}  // namespace guardian::helper
