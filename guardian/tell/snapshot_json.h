// `guardian sample --json`: one JSON object with everything sensed and modelled
// (schema in DESIGN.md; keys there are a contract, more may be added).
#pragma once

#include <string>
#include <vector>

#include "model/oomd_model.h"
#include "sense/snapshot.h"

namespace guardian {

std::string snapshot_to_json(const Snapshot& snapshot, const HostLayout& layout,
                             const std::vector<OomdCgroupState>& oomd, const std::string& level,
                             int indent = 2);

}  // namespace guardian
