#include <algorithm>

#include "act/action.h"
#include "act/basic_actions.h"
#include "act/jellyfin_actions.h"
#include "act/systemd_actions.h"

namespace guardian {

std::string_view outcome_name(ActionResult::Outcome outcome) {
  switch (outcome) {
    case ActionResult::Outcome::Applied: return "applied";
    case ActionResult::Outcome::Reverted: return "reverted";
    case ActionResult::Outcome::Unchanged: return "unchanged";
    case ActionResult::Outcome::Failed: return "failed";
    case ActionResult::Outcome::TimedOut: return "timed-out";
  }
  return "unknown";
}

void ActionRegistry::add(const std::string& type, Entry entry) { entries_[type] = std::move(entry); }

const ActionRegistry::Entry* ActionRegistry::find(const std::string& type) const {
  auto it = entries_.find(type);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<std::string> ActionRegistry::types() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [type, entry] : entries_) out.push_back(type);
  return out;
}

std::vector<std::pair<std::string, SourcePos>> ActionRegistry::check(const ActionSpec& spec) const {
  const Entry* entry = find(spec.type);
  if (entry == nullptr) return {{"unknown action type \"" + spec.type + "\"", spec.pos}};
  if (!entry->validate) return {};
  return entry->validate(spec);
}

void ActionRegistry::add_restorer(const std::string& kind, Restorer restorer, RestoreAdmission admit) {
  restorers_[kind] = {std::move(restorer), std::move(admit)};
}

const Restorer* ActionRegistry::restorer(const std::string& kind) const {
  auto it = restorers_.find(kind);
  return it == restorers_.end() ? nullptr : &it->second.first;
}

const RestoreAdmission* ActionRegistry::admission(const std::string& kind) const {
  auto it = restorers_.find(kind);
  return it == restorers_.end() || !it->second.second ? nullptr : &it->second.second;
}

const ActionRegistry& builtin_actions() {
  static const ActionRegistry registry = [] {
    ActionRegistry r;
    register_basic_actions(r);
    register_systemd_actions(r);
    register_jellyfin_actions(r);
    return r;
  }();
  return registry;
}

std::vector<std::vector<ReliefTarget>> level_relief_targets(const ActionRegistry& registry,
                                                            const Policy& policy) {
  std::vector<std::vector<ReliefTarget>> targets(policy.levels.size());
  for (size_t level = 0; level < policy.levels.size(); ++level) {
    for (const auto& spec : policy.levels[level].actions) {
      const ActionRegistry::Entry* entry = registry.find(spec.type);
      if (!entry || !entry->relief_target) continue;
      if (auto target = entry->relief_target(spec, policy)) targets[level].push_back(std::move(*target));
    }
  }
  return targets;
}

}  // namespace guardian
