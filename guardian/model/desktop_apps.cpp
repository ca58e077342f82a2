#include "model/desktop_apps.h"

#include <algorithm>

namespace guardian {

std::vector<AppMemory> largest_desktop_apps(const Snapshot& snapshot, std::string_view user_manager_path,
                                            size_t count) {
  std::vector<AppMemory> apps;
  if (user_manager_path.empty()) return apps;
  const std::string prefix = std::string(user_manager_path) + "/app.slice/";
  for (const auto& cgroup : snapshot.cgroups) {
    // Leaves only: an application's unit has no child cgroups of its own (a slice of apps does).
    if (!cgroup.path.starts_with(prefix) || cgroup.has_children || !cgroup.unit.starts_with("app-")) continue;
    if (!cgroup.unit.ends_with(".scope") && !cgroup.unit.ends_with(".service")) continue;
    apps.push_back({cgroup.unit, cgroup.memory.current_bytes.value_or(0)});
  }
  std::sort(apps.begin(), apps.end(), [](const AppMemory& a, const AppMemory& b) {
    return a.bytes != b.bytes ? a.bytes > b.bytes : a.unit < b.unit;
  });
  if (apps.size() > count) apps.resize(count);
  return apps;
}

}  // namespace guardian
