#include "model/workloads.h"

#include <algorithm>
#include <map>

namespace guardian {
namespace {

constexpr std::string_view kLibpodPrefix = "libpod-";
constexpr std::string_view kConmonPrefix = "libpod-conmon-";
constexpr std::string_view kScopeSuffix = ".scope";

bool is_inside(std::string_view path, std::string_view ancestor) {
  return path.size() > ancestor.size() && path.starts_with(ancestor) && path[ancestor.size()] == '/';
}

std::string_view last_component(std::string_view path) { return path.substr(path.rfind('/') + 1); }

std::string_view parent_of(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos || slash == 0 ? std::string_view("/") : path.substr(0, slash);
}

// The container id of "libpod-<id>.scope" / "libpod-conmon-<id>.scope", empty if neither.
std::string_view libpod_id(std::string_view unit, bool& is_conmon) {
  is_conmon = false;
  if (!unit.starts_with(kLibpodPrefix) || !unit.ends_with(kScopeSuffix)) return {};
  std::string_view id = unit.substr(0, unit.size() - kScopeSuffix.size());
  if (id.starts_with(kConmonPrefix)) {
    is_conmon = true;
    id.remove_prefix(kConmonPrefix.size());
  } else {
    id.remove_prefix(kLibpodPrefix.size());
  }
  return id;
}

uint64_t bytes_of(const CgroupSample& cgroup) { return cgroup.memory.current_bytes.value_or(0); }

}  // namespace

WorkloadSplit classify_workloads(const Snapshot& snapshot, std::string_view user_manager_path,
                                 const std::vector<std::string>& quadlet_units) {
  WorkloadSplit split;
  if (const CgroupSample* manager = snapshot.find(user_manager_path))
    split.user_total_bytes = bytes_of(*manager);

  std::vector<std::string> container_paths;                 // outermost matches so far, to skip their insides
  std::map<std::string, size_t, std::less<>> by_libpod_id;  // id -> index in split.containers
  std::vector<const CgroupSample*> conmons;

  for (const auto& cgroup : snapshot.cgroups) {
    if (!is_inside(cgroup.path, user_manager_path)) continue;
    const bool inside_container =
        std::any_of(container_paths.begin(), container_paths.end(),
                    [&](const std::string& c) { return is_inside(cgroup.path, c); });
    if (inside_container) continue;
    const std::string_view unit = last_component(cgroup.path);
    bool is_conmon = false;
    const std::string_view id = libpod_id(unit, is_conmon);
    if (!id.empty() && is_conmon) {
      conmons.push_back(&cgroup);  // merged once all payload scopes are known
      container_paths.push_back(cgroup.path);
      continue;
    }
    const bool in_container_slice = last_component(parent_of(cgroup.path)) == "container.slice";
    const bool quadlet = std::find(quadlet_units.begin(), quadlet_units.end(), unit) != quadlet_units.end();
    if (id.empty() && !in_container_slice && !quadlet) continue;

    ContainerCgroup container;
    container.path = cgroup.path;
    container.name = !id.empty() ? std::string(id.substr(0, 12)) : std::string(unit);
    container.memory_bytes = bytes_of(cgroup);
    if (!id.empty()) by_libpod_id.emplace(std::string(id), split.containers.size());
    split.containers.push_back(std::move(container));
    container_paths.push_back(cgroup.path);
  }

  for (const CgroupSample* conmon : conmons) {
    bool is_conmon = false;
    const std::string_view id = libpod_id(last_component(conmon->path), is_conmon);
    if (auto it = by_libpod_id.find(id); it != by_libpod_id.end()) {
      ContainerCgroup& container = split.containers[it->second];
      container.memory_bytes += bytes_of(*conmon);
      container.merged_paths.push_back(conmon->path);
    } else {
      split.containers.push_back(
          ContainerCgroup{conmon->path, std::string(id.substr(0, 12)), bytes_of(*conmon), {}});
    }
  }

  for (const auto& container : split.containers) split.containers_bytes += container.memory_bytes;
  split.desktop_bytes =
      split.user_total_bytes > split.containers_bytes ? split.user_total_bytes - split.containers_bytes : 0;

  // Desktop: the user manager's direct children, minus the container memory inside them.
  for (const auto& cgroup : snapshot.cgroups) {
    if (parent_of(cgroup.path) != user_manager_path) continue;
    uint64_t container_bytes_inside = 0;
    for (const auto& container : split.containers) {
      if (container.path == cgroup.path || is_inside(container.path, cgroup.path)) {
        container_bytes_inside += container.memory_bytes;
      }
    }
    const uint64_t own = bytes_of(cgroup);
    const uint64_t desktop = own > container_bytes_inside ? own - container_bytes_inside : 0;
    if (desktop > 0) split.desktop.push_back(DesktopCgroup{cgroup.path, desktop});
  }

  auto larger_first = [](const auto& a, const auto& b) {
    return a.memory_bytes != b.memory_bytes ? a.memory_bytes > b.memory_bytes : a.path < b.path;
  };
  std::sort(split.containers.begin(), split.containers.end(), larger_first);
  std::sort(split.desktop.begin(), split.desktop.end(), larger_first);
  return split;
}

}  // namespace guardian
