// What the policy loader needs to know about actions: which types exist, and whether one action's
// arguments are right. config knows no action itself; act's ActionRegistry provides this, so the
// loader sits below act and a new action needs no change here.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "config/policy.h"

namespace guardian {

class ActionCatalog {
 public:
  virtual ~ActionCatalog() = default;
  [[nodiscard]] virtual bool has_type(const std::string& type) const = 0;
  // Every type, sorted (for "unknown action type" messages and their suggestion).
  [[nodiscard]] virtual std::vector<std::string> types() const = 0;
  // One message per problem with the spec's arguments; a position with line 0 means "the action
  // itself". The loader adds FILE:LINE:COL. An exception from here becomes a diagnostic too.
  [[nodiscard]] virtual std::vector<std::pair<std::string, SourcePos>> check(
      const ActionSpec& spec) const = 0;
};

}  // namespace guardian
