// The ladder engine: given the policy, where we are, and the model's view of the host, decide
// which level we should be at and which actions to apply or revert. Pure: plain values in,
// plain values out; time comes in as an argument.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/policy.h"
#include "model/oomd_model.h"
#include "model/user_budget.h"
#include "sense/snapshot.h"

namespace guardian {

// What decide sees. user_manager_path lets relative cgroup names ("app.slice") be resolved.
struct ModelView {
  const Snapshot* snapshot = nullptr;
  const std::vector<OomdCgroupState>* oomd = nullptr;
  std::string_view user_manager_path;  // the host layout's, which outlives the view
  const UserBudget* budget = nullptr;  // the approach to the user's budget ([approach]); may be null
  // The memory each active level's actions hold back (index = level - 1; model/action_relief.h):
  // what would come back into the budget if the level's actions were reverted. Empty = unknown (0).
  std::span<const uint64_t> action_relief_bytes = {};
};

// The level [approach] asks for now (1-based), with why; nullopt when it asks for none (off, no
// budget yet, or the prediction does not hold). `current_level`: where the ladder is (at or above
// the approach's level it also holds on the milder refault condition).
struct ApproachClimb {
  size_t level = 0;
  std::string reason;
};
std::optional<ApproachClimb> approach_climb(const Policy& policy, const ModelView& view,
                                            size_t current_level = 0);
// The same into a kept string: the level (0 = none) and, when one, its reason in `reason`.
size_t approach_climb(const Policy& policy, const ModelView& view, std::string& reason,
                      size_t current_level = 0);

struct LadderState {
  size_t level = 0;                         // 0 = normal; i = policy.levels[i-1]
  std::vector<MonoTime> entered_at;         // when each active level (1..level) was entered
  std::optional<MonoTime> exit_true_since;  // since when the current level's exit has held
  // Since when the relief its own actions hold back alone has kept the current level (the
  // rebound rule of [approach], max_rebound_hold): reset when anything else holds it or it moves.
  std::optional<MonoTime> rebound_held_since;
  // The last tick, at [approach]'s level or above, when the user's working set still did not fit
  // (used_percent in use, refaults at hold_refault_pages_per_second) or its budget was still
  // running out (used_percent in use, exhausted within `within`): the approach's level is not left
  // until it has been calm for that level's `hold`. Cleared at normal.
  std::optional<MonoTime> approach_short_at;
};

struct ActionCommand {
  enum class Kind { Apply, Revert } kind = Kind::Apply;
  size_t level = 0;         // 1-based level whose action this is
  size_t action_index = 0;  // index into policy.levels[level-1].actions
};

struct Transition {
  size_t from = 0;
  size_t to = 0;
  std::string reason;  // which condition, with the measured value: "full avg10 of app.slice 42.10 > 40"
};

struct Decision {
  LadderState next;
  std::vector<Transition> transitions;
  std::vector<ActionCommand> commands;  // in execution order
  std::string explanation;              // why we are at next.level now (for `Explain` / status)
  // Set on the tick the rebound rule began to hold the level (the explanation says why): told
  // once per stretch, not every tick.
  struct ReboundHold {
    uint64_t held_back_bytes = 0;
    double without_percent = 0;  // the budget's use with that memory back
  };
  std::optional<ReboundHold> rebound_hold_began;
};

// Level names: 0 -> "normal", i -> policy.levels[i-1].name.
std::string level_name(const Policy& policy, size_t level);

// Evaluates one condition; the string receives the measured value and where it was measured.
bool evaluate(const Condition& condition, const ModelView& view, std::string* measured);

Decision decide(const Policy& policy, const LadderState& state, const ModelView& view, MonoTime now);

// Texts decide() builds on the way to its explanation, kept by the caller between ticks.
struct DecideScratch {
  std::string reason;     // the condition that holds the target level
  std::string approach;   // [approach]'s reason
  std::string condition;  // one condition's measured text
  std::string exit;       // the exit conditions' texts
};

// The same into a Decision the caller keeps (the daemon's, every tick): its vectors and strings
// are cleared and refilled, so once their capacity has grown a steady tick decides without
// allocating. Only a transition (a level change, which is told) builds new strings.
void decide(const Policy& policy, const LadderState& state, const ModelView& view, MonoTime now,
            Decision& out, DecideScratch& scratch);

// Commands that take the ladder from `state` all the way down to normal (used on SIGTERM and
// when a reloaded policy has a different ladder).
Decision unwind(const Policy& policy, const LadderState& state);

}  // namespace guardian
