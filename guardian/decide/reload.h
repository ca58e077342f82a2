// SIGHUP with a policy: what of the ladder in force the new policy keeps. Reverting everything on
// every reload dropped all protection under real pressure until the next tick climbed again,
// even when the file had not changed. Pure.
#pragma once

#include <vector>

#include "config/policy.h"
#include "decide/ladder.h"

namespace guardian {

// Whether `next`'s action `b` does exactly what `old`'s action `a` does: the same type and
// arguments (positions in the file do not count), and the same policy parts the action reads
// ([[jellyfin]] for jellyfin.*, [container_slice] and [containers] for slice.* and unit.*).
bool same_action(const Policy& old, const ActionSpec& a, const Policy& next, const ActionSpec& b);

struct ReloadPlan {
  LadderState next;                     // the ladder under the new policy
  std::vector<Transition> transitions;  // a step down when levels in force changed
  std::vector<ActionCommand> reverts;   // against the old policy, in execution order
  std::vector<ActionCommand> applies;   // against the new policy, in execution order
  size_t kept = 0;                      // actions left in force untouched
};

// The levels in force (1..state.level) stay in force up to the first one the new policy does not
// have at the same place under the same name; the ladder steps down below that one. In a level
// that stays, an action stays in force when the new policy has the same action (same_action) at
// the same index; every other action in force is reverted, and the new policy's actions of the
// levels that stay are applied. A reload of the same policy keeps everything.
ReloadPlan plan_reload(const Policy& old, const LadderState& state, const Policy& next);

}  // namespace guardian
