// `guardian sample --json`: one JSON object with everything sensed and modelled
// (schema in DESIGN.md; keys there are a contract, more may be added).
#pragma once

#include <string>
#include <vector>

#include "model/oomd_model.h"
#include "model/user_budget.h"
#include "sense/snapshot.h"

namespace guardian {

std::string snapshot_to_json(const Snapshot& snapshot, const HostLayout& layout,
                             const std::vector<OomdCgroupState>& oomd, const std::string& level,
                             int indent = 2, const UserBudget* budget = nullptr);

// The user's memory budget (model/user_budget.h) as `sample --json` prints it under "user_budget":
// bytes as integers, rates per second, null where there is no value yet (+inf: null too).
std::string user_budget_json_text(const UserBudget& budget);

}  // namespace guardian
