#include "model/oomd_rules.h"

#include <set>
#include <string_view>

#include "common/units.h"
#include "sense/systemd_config.h"

namespace guardian {
namespace {

// The user's home from the host's /etc/passwd (through the host root, so fixtures carry their
// own), for ~/.config/systemd/user drop-ins. Empty when not found.
std::string home_of(const HostRoot& host, uint32_t uid) {
  auto passwd = read_file(host.path("/etc/passwd"));
  if (!passwd.ok()) return {};
  std::string_view text = *passwd;
  while (!text.empty()) {
    const auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    // name:password:uid:gid:gecos:home:shell
    std::string_view fields[7];
    size_t count = 0;
    while (count < 7) {
      const auto colon = line.find(':');
      fields[count++] = line.substr(0, colon);
      if (colon == std::string_view::npos) break;
      line = line.substr(colon + 1);
    }
    if (count >= 6 && parse_u64(fields[2]) == uid) return std::string(fields[5]);
  }
  return {};
}

}  // namespace

std::set<std::string> user_manager_slices(const HostLayout& layout, const Snapshot& snapshot) {
  std::set<std::string> slices;
  if (layout.user_manager_path.empty()) return slices;
  const std::string prefix = layout.user_manager_path + "/";
  for (const auto& cgroup : snapshot.cgroups) {
    if (cgroup.path.starts_with(prefix) && cgroup.unit.ends_with(".slice")) slices.insert(cgroup.unit);
  }
  return slices;
}

OomdRuleSet load_oomd_rules(const HostRoot& host, const HostLayout& layout, const Snapshot& snapshot) {
  OomdRuleSet rules;
  rules.defaults = parse_oomd_conf(read_oomd_conf(host), &rules.warnings);

  auto add = [&](ManagerScope scope, const std::string& unit, const std::string& home) {
    auto fragments = read_unit_config(host, scope, unit, home);
    if (fragments.empty()) return;
    ManagedOomSettings settings = parse_managed_oom(fragments, &rules.warnings);
    rules.units.emplace_back((scope == ManagerScope::System ? "system/" : "user/") + unit,
                             std::move(settings));
  };

  // System manager units that can be oomd targets guardian can see: the user's manager
  // (Debian 12 and older Fedora: user@.service at 50%) and system.slice (Fedora, read-only).
  if (!layout.user_manager_path.empty())
    add(ManagerScope::System, "user@" + std::to_string(layout.uid) + ".service", {});
  add(ManagerScope::System, "system.slice", {});

  // Every slice inside the user manager, by name: its fragments include the type drop-ins
  // (Fedora's user/slice.d/10-oomd-per-slice-defaults.conf) and its own.
  if (!layout.user_manager_path.empty()) {
    const std::string home = home_of(host, layout.uid);
    for (const auto& slice : user_manager_slices(layout, snapshot)) add(ManagerScope::User, slice, home);
  }
  rules.watched = resolve_watched(rules.defaults, rules.units, snapshot);
  return rules;
}

}  // namespace guardian
