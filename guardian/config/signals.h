// The signals a policy condition can measure, one row each in signals.cpp: the name a policy
// writes, the range of a threshold, where the signal is measured (the system, a cgroup, the
// user's memory budget), which
// side is worse, and how its value is read from the snapshot and oomd's model. The loader checks
// conditions against the row, the ladder reads values through it: a new signal is an enumerator
// in policy.h and a row here.
#pragma once

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

// One cgroup as a signal reads it. `sample` (not in the snapshot) and `oomd` (not watched by
// oomd, or not present) may be null.
struct CgroupReading {
  const Snapshot& snapshot;
  std::string_view path;
  const CgroupSample* sample = nullptr;
  const OomdCgroupState* oomd = nullptr;
};

struct SignalInfo {
  Signal signal;
  std::string_view name;  // "full_avg10"
  // Thresholds lie in 0..max; above it, the loader says `name` + too_high.
  double max;
  std::string_view too_high;
  // Where a condition may measure it, and which selector it gets when it names none. The user's
  // budget is one value: a signal measured on it takes only the selector "user".
  bool on_system;
  bool on_cgroup;
  bool on_user_budget;
  std::string_view default_cgroup;  // "system", "oomd-watched" or "user"
  bool lower_is_worse;              // the lowest value of several is the most severe
  bool whole_number;                // printed without decimals ("1", not "1.00")
  // The value on the system / on one cgroup; nullopt when there is none (no data, not watched).
  std::optional<double> (*system_value)(const Snapshot& snapshot);
  std::optional<double> (*cgroup_value)(const CgroupReading& cgroup);
  // The value on the user's budget (model/user_budget.h), once the budget is known.
  std::optional<double> (*budget_value)(const UserBudget& budget);
};

// The selector of the user's memory budget.
inline constexpr std::string_view kUserBudgetSelector = "user";

// Every signal, in the order of the Signal enumerators.
std::span<const SignalInfo> signal_table();
const SignalInfo& signal_info(Signal signal);

// Signal names as a policy writes them ("full_avg10", …) and back.
std::optional<Signal> signal_from_name(std::string_view name);
std::string_view signal_name(Signal signal);
const std::vector<std::string_view>& signal_names();

}  // namespace guardian
