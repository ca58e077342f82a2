// The ladder engine: given the policy, where we are, and the model's view of the host, decide
// which level we should be at and which actions to apply or revert. Pure: plain values in,
// plain values out; time comes in as an argument.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "config/policy.h"
#include "model/oomd_model.h"
#include "sense/snapshot.h"

namespace guardian {

// What decide sees. user_manager_path lets relative cgroup names ("app.slice") be resolved.
struct ModelView {
  const Snapshot* snapshot = nullptr;
  const std::vector<OomdCgroupState>* oomd = nullptr;
  std::string user_manager_path;
};

struct LadderState {
  size_t level = 0;                         // 0 = normal; i = policy.levels[i-1]
  std::vector<MonoTime> entered_at;         // when each active level (1..level) was entered
  std::optional<MonoTime> exit_true_since;  // since when the current level's exit has held
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
};

// Level names: 0 -> "normal", i -> policy.levels[i-1].name.
std::string level_name(const Policy& policy, size_t level);

// Evaluates one condition; the string receives the measured value and where it was measured.
bool evaluate(const Condition& condition, const ModelView& view, std::string* measured);

Decision decide(const Policy& policy, const LadderState& state, const ModelView& view, MonoTime now);

// Commands that take the ladder from `state` all the way down to normal (used on SIGTERM and
// when a reloaded policy has a different ladder).
Decision unwind(const Policy& policy, const LadderState& state);

}  // namespace guardian
