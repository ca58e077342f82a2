#include "decide/reload.h"

#include <algorithm>

namespace guardian {
namespace {

bool same_size(const std::optional<SizeSpec>& a, const std::optional<SizeSpec>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->bytes == b->bytes && a->percent_of_ram == b->percent_of_ram);
}

bool same_jellyfin(const JellyfinInstanceSettings& a, const JellyfinInstanceSettings& b) {
  return a.name == b.name && a.url == b.url && a.api_key_file == b.api_key_file &&
         a.credential == b.credential && a.timeout == b.timeout && a.poll_interval == b.poll_interval &&
         a.cgroup == b.cgroup && a.failure_threshold == b.failure_threshold &&
         a.retry_after == b.retry_after && a.render_node == b.render_node &&
         a.user_priority == b.user_priority && a.client_priority == b.client_priority &&
         a.default_priority == b.default_priority;
}

bool same_sections_for(const std::string& type, const Policy& old, const Policy& next) {
  if (type.starts_with("jellyfin.")) {
    return std::equal(old.jellyfin.begin(), old.jellyfin.end(), next.jellyfin.begin(), next.jellyfin.end(),
                      same_jellyfin);
  }
  if (type.starts_with("slice.") || type.starts_with("unit.")) {
    const auto& a = old.container_slice;
    const auto& b = next.container_slice;
    return a.unit == b.unit && same_size(a.memory_high, b.memory_high) &&
           same_size(a.memory_max, b.memory_max) && same_size(a.floor, b.floor) &&
           same_size(a.ceiling, b.ceiling) && a.hard_correction == b.hard_correction &&
           old.containers.protected_units == next.containers.protected_units &&
           old.containers.low_priority_units == next.containers.low_priority_units;
  }
  return true;  // log, notify: their arguments are all they read
}

}  // namespace

bool same_action(const Policy& old, const ActionSpec& a, const Policy& next, const ActionSpec& b) {
  if (a.type != b.type || a.params.size() != b.params.size()) return false;
  for (const auto& [name, param] : a.params) {
    auto other = b.params.find(name);
    if (other == b.params.end() || !(other->second.value == param.value)) return false;
  }
  return same_sections_for(a.type, old, next);
}

ReloadPlan plan_reload(const Policy& old, const LadderState& state, const Policy& next) {
  ReloadPlan plan;
  const size_t in_force = std::min(state.level, old.levels.size());
  size_t keep = 0;
  while (keep < in_force && keep < next.levels.size() && old.levels[keep].name == next.levels[keep].name)
    ++keep;

  // Down from the top, as unwind() does: the levels that go, then what changed in those that stay.
  for (size_t level = in_force; level > keep; --level) {
    const auto& actions = old.levels[level - 1].actions;
    for (size_t index = actions.size(); index-- > 0;)
      plan.reverts.push_back({ActionCommand::Kind::Revert, level, index});
  }
  if (keep < in_force) {
    plan.transitions.push_back(
        {in_force, keep, "policy reloaded: the levels above this one changed in the new policy"});
  }
  for (size_t level = keep; level >= 1; --level) {
    const auto& before = old.levels[level - 1].actions;
    const auto& after = next.levels[level - 1].actions;
    for (size_t index = before.size(); index-- > 0;) {
      if (index < after.size() && same_action(old, before[index], next, after[index])) {
        ++plan.kept;
        continue;
      }
      plan.reverts.push_back({ActionCommand::Kind::Revert, level, index});
    }
  }
  for (size_t level = 1; level <= keep; ++level) {
    const auto& before = old.levels[level - 1].actions;
    const auto& after = next.levels[level - 1].actions;
    for (size_t index = 0; index < after.size(); ++index) {
      if (index < before.size() && same_action(old, before[index], next, after[index])) continue;
      plan.applies.push_back({ActionCommand::Kind::Apply, level, index});
    }
  }

  plan.next = state;
  plan.next.level = keep;
  if (plan.next.entered_at.size() > keep) plan.next.entered_at.resize(keep);
  if (keep < state.level) plan.next.exit_true_since.reset();
  return plan;
}

}  // namespace guardian
