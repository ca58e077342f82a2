// unit.freeze / unit.thaw and the "systemd.unit-freeze" restorer. Freezing (cgroup v2 freezer,
// Manager.FreezeUnit) stops a low-priority container from allocating without killing it: its
// memory stays, but it stops adding pressure, and oomd's pgscan-based choice no longer favours a
// busy container the user cares about. Which units may be frozen is the policy's [containers]
// low_priority list; protected ones are refused when the policy is loaded (config/policy_containers).
#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>

#include "act/basic_actions.h"
#include "act/state_store.h"
#include "act/systemd_actions.h"
#include "act/systemd_actions_internal.h"
#include "act/unit_manager.h"

namespace guardian {
namespace {

using systemd_actions::client;

std::string freeze_json(const std::string& unit, const std::string& freezer_state) {
  return nlohmann::json{{"unit", unit}, {"freezer_state", freezer_state}}.dump();
}

// Puts a unit back into the freezer state it had before guardian touched it.
Result<void> restore_freeze(const ActionEnv& env, const std::string& key, const std::string& original_json,
                            Deadline deadline) {
  nlohmann::json json = nlohmann::json::parse(original_json, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("unit") || !json["unit"].is_string() ||
      !json.contains("freezer_state") || !json["freezer_state"].is_string()) {
    return make_error("state entry " + key + ": expected {\"unit\", \"freezer_state\"}");
  }
  auto connection = client(env);
  if (!connection) return connection.error();
  const auto unit = json["unit"].get<std::string>();
  const auto state = json["freezer_state"].get<std::string>();
  if (state == "frozen") return (*connection)->freeze_unit_wait(unit, deadline);
  return (*connection)->thaw_unit_wait(unit, deadline);
}

// Which "systemd.unit-freeze" entries a restore at start may act on (systemd_actions.h).
Result<void> admit_freeze(const Policy& policy, const std::string& key, const std::string& original_json) {
  nlohmann::json json = nlohmann::json::parse(original_json, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("unit") || !json["unit"].is_string() ||
      !json.contains("freezer_state") || !json["freezer_state"].is_string())
    return make_error("expected {\"unit\", \"freezer_state\"}");
  const auto unit = json["unit"].get<std::string>();
  const auto state = json["freezer_state"].get<std::string>();
  if (key != unit_freeze_key(unit))
    return make_error("its key does not name the unit it holds (" + unit + ")");
  const auto& low = policy.containers.low_priority_units;
  const bool low_priority = std::find(low.begin(), low.end(), unit) != low.end();
  if (state == "frozen") {
    if (!low_priority)
      return make_error("would freeze " + unit + ", which the policy does not list as low priority");
    return {};
  }
  const auto named = policy_freeze_units(policy);
  if (!low_priority && std::find(named.begin(), named.end(), unit) == named.end())
    return make_error(unit +
                      " is not a unit the policy manages (low priority, or named by unit.freeze/unit.thaw)");
  return {};
}

class FreezeAction final : public Action {
 public:
  FreezeAction(bool freeze, const ActionSpec& spec, const ActionEnv& env)
      : freeze_(freeze),
        type_(freeze ? "unit.freeze" : "unit.thaw"),
        unit_(param_string(spec, "unit")),
        env_(env) {}
  [[nodiscard]] const std::string& type() const override { return type_; }
  [[nodiscard]] std::string describe() const override { return (freeze_ ? "freeze " : "thaw ") + unit_; }

  ActionResult apply(Deadline deadline) override {
    auto connection = client(env_);
    if (!connection) return {ActionResult::Outcome::Failed, connection.error().message};
    auto unit = (*connection)->get_unit_wait(unit_, deadline);
    if (!unit) return {ActionResult::Outcome::Failed, unit.error().message};
    if (unit->active_state != "active") {
      return {ActionResult::Outcome::Unchanged,
              unit_ + " is " + unit->active_state + ", nothing to " + (freeze_ ? "freeze" : "thaw")};
    }
    const std::string wanted = freeze_ ? "frozen" : "running";
    if (unit->freezer_state == wanted)
      return {ActionResult::Outcome::Unchanged, unit_ + " is already " + wanted};
    if (env_.dry_run) return {ActionResult::Outcome::Unchanged, "dry run: would " + describe()};
    if (env_.state) {
      auto saved = env_.state->save_original(
          unit_freeze_key(unit_), "systemd.unit-freeze",
          freeze_json(unit_, unit->freezer_state.empty() ? "running" : unit->freezer_state));
      if (!saved)
        return {ActionResult::Outcome::Failed, "not touching " + unit_ + ": " + saved.error().message};
    }
    auto done = freeze_ ? (*connection)->freeze_unit_wait(unit_, deadline)
                        : (*connection)->thaw_unit_wait(unit_, deadline);
    if (!done) return {ActionResult::Outcome::Failed, done.error().message};
    return {ActionResult::Outcome::Applied,
            unit_ + " " + (unit->freezer_state.empty() ? "running" : unit->freezer_state) + " -> " + wanted};
  }

  ActionResult revert(Deadline deadline) override {
    const std::string key = unit_freeze_key(unit_);
    auto saved = env_.state ? env_.state->get(key) : std::nullopt;
    if (!saved) return {ActionResult::Outcome::Unchanged, "nothing saved for " + unit_};
    if (env_.dry_run) return {ActionResult::Outcome::Unchanged, "dry run: would restore " + unit_};
    auto restored = restore_freeze(env_, key, saved->original_json, deadline);
    if (!restored) return {ActionResult::Outcome::Failed, restored.error().message};
    auto forgotten = env_.state->forget(key);
    if (!forgotten) return {ActionResult::Outcome::Failed, "restored, but " + forgotten.error().message};
    return {ActionResult::Outcome::Reverted, unit_ + " back to its previous freezer state"};
  }

 private:
  bool freeze_;
  std::string type_;
  std::string unit_;
  ActionEnv env_;
};

std::optional<ReliefTarget> freeze_relief(const ActionSpec& spec, const Policy& /*policy*/) {
  return ReliefTarget{ReliefTarget::By::Unit, param_string(spec, "unit")};
}

void add_freeze(ActionRegistry& registry, bool freeze) {
  const std::string type = freeze ? "unit.freeze" : "unit.thaw";
  registry.add(
      type, {[](const ActionSpec& spec) {
               auto problems = check_params(spec, {{"unit", ParamRule::Type::String, true}});
               auto names = systemd_actions::check_unit_name(spec, "unit", {});
               problems.insert(problems.end(), names.begin(), names.end());
               return problems;
             },
             [freeze](const ActionSpec& spec, const ActionEnv& env) -> Result<std::unique_ptr<Action>> {
               return std::unique_ptr<Action>(std::make_unique<FreezeAction>(freeze, spec, env));
             },
             freeze ? "freeze a low-priority container's unit (cgroup freezer); thawed when the level is left"
                    : "thaw a unit guardian or the user froze",
             // A frozen unit's memory, pushed out under pressure, comes back once it is thawed.
             freeze ? &freeze_relief : nullptr});
}

}  // namespace

std::vector<std::string> policy_freeze_units(const Policy& policy) {
  std::vector<std::string> units;
  for (const auto& level : policy.levels) {
    for (const auto& action : level.actions) {
      if (action.type == "unit.freeze" || action.type == "unit.thaw")
        units.push_back(param_string(action, "unit"));
    }
  }
  return units;
}

namespace systemd_actions {
void register_unit_actions(ActionRegistry& registry) {
  add_freeze(registry, true);
  add_freeze(registry, false);
  registry.add_restorer("systemd.unit-freeze", &restore_freeze, &admit_freeze);
}
}  // namespace systemd_actions

}  // namespace guardian
