#include "model/oomd_rules.h"

namespace guardian {

std::set<std::string> user_manager_slices(const HostLayout& layout, const Snapshot& snapshot) {
  std::set<std::string> slices;
  if (layout.user_manager_path.empty()) return slices;
  const std::string prefix = layout.user_manager_path + "/";
  for (const auto& cgroup : snapshot.cgroups) {
    if (cgroup.path.starts_with(prefix) && cgroup.unit.ends_with(".slice")) slices.insert(cgroup.unit);
  }
  return slices;
}

OomdRuleSet oomd_rules_from_files(const OomdConfigFiles& files, const Snapshot& snapshot) {
  OomdRuleSet rules;
  rules.defaults = parse_oomd_conf(files.oomd_conf, &rules.warnings);
  for (const auto& unit : files.units) {
    ManagedOomSettings settings = parse_managed_oom(unit.fragments, &rules.warnings);
    rules.units.emplace_back((unit.scope == ManagerScope::System ? "system/" : "user/") + unit.name,
                             std::move(settings));
  }
  rules.watched = resolve_watched(rules.defaults, rules.units, snapshot);
  return rules;
}

}  // namespace guardian
