// The ladder engine. Pure: the policy, the state and the model's view in; the next state and the
// commands out. See ladder.h for the contract; the rules in one place:
//  - climb to the highest level whose enter conditions (any) hold, applying the actions of every
//    level passed on the way, mildest first;
//  - otherwise, at level L whose enter conditions no longer hold, step down one level per tick
//    when L's exit conditions all hold (no exit conditions: "none of enter holds", which is already
//    true here) and L has been held for `hold` since it was entered; revert L's actions in reverse;
//  - between enter and exit thresholds nothing moves: that gap is the hysteresis;
//  - [approach] counts as one more enter condition of its level: the user's memory budget
//    predicted to run out within `within` while `used_percent` of it is used (both at once; a
//    level's own conditions can also read the budget, one at a time: budget_used_percent,
//    seconds_to_budget_exhausted); once the budget is full (`full_percent`) the prediction is
//    replaced by the fact: it holds while file refaults reach `refault_pages_per_second`; and at
//    its level it keeps holding while `used_percent` is used and refaults reach
//    `hold_refault_pages_per_second` (its own hysteresis: the level's relief must not end it);
//  - the rebound rule: the approach's level, once nothing else holds it, is still not left while
//    the budget would be at `used_percent` again if the memory its own actions hold back came
//    back (used + held back >= used_percent of the budget; model/action_relief.h), for at most
//    `max_rebound_hold` at a stretch.
#include "decide/ladder.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>

#include "config/signals.h"

namespace guardian {
namespace {

// One value measured for a condition, and where: "system", a path below the user manager
// ("app.slice") or an absolute path outside it. `where` points into the policy, the snapshot or
// oomd's states, which outlive the decision.
struct Measurement {
  double value = 0;
  std::string_view where;
};

// The texts below are appended to strings the caller keeps (Decision::explanation, the
// evaluation's text): once their capacity has grown, a tick formats without allocating.
void append_number(std::string& out, const char* format, double value) {
  char buf[48];
  const int n = std::snprintf(buf, sizeof buf, format, value);
  if (n > 0) out.append(buf, std::min(static_cast<size_t>(n), sizeof buf - 1));
}

void append_value(std::string& out, const SignalInfo& signal, double value) {
  if (std::isinf(value)) {
    out.append(value > 0 ? "inf" : "-inf");
    return;
  }
  append_number(out, signal.whole_number ? "%.0f" : "%.2f", value);
}

void append_seconds(std::string& out, std::chrono::microseconds duration) {
  append_number(out, "%.1fs", static_cast<double>(duration.count()) / 1e6);
}

void append_level(std::string& out, const Policy& policy, size_t level) {
  if (level == 0)
    out.append("normal");
  else if (level <= policy.levels.size())
    out.append(policy.levels[level - 1].name);
  else
    out.append(level_name(policy, level));
}

// '*' matches any run of characters inside one path component.
bool glob_match(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// The part of `path` below the user manager ("app.slice/foo.scope"), or nullopt when outside it.
std::optional<std::string_view> below_manager(std::string_view path, std::string_view manager) {
  if (manager.empty() || path.size() <= manager.size() + 1) return std::nullopt;
  if (!path.starts_with(manager) || path[manager.size()] != '/') return std::nullopt;
  return path.substr(manager.size() + 1);
}

bool selector_matches(std::string_view selector, std::string_view relative) {
  for (;;) {
    const auto selector_slash = selector.find('/');
    const auto relative_slash = relative.find('/');
    if ((selector_slash == std::string_view::npos) != (relative_slash == std::string_view::npos))
      return false;
    if (!glob_match(selector.substr(0, selector_slash), relative.substr(0, relative_slash))) return false;
    if (selector_slash == std::string_view::npos) return true;
    selector.remove_prefix(selector_slash + 1);
    relative.remove_prefix(relative_slash + 1);
  }
}

std::string_view display_path(std::string_view path, const ModelView& view) {
  if (auto relative = below_manager(path, view.user_manager_path)) return *relative;
  return path;
}

const OomdCgroupState* find_oomd(const ModelView& view, std::string_view path) {
  if (!view.oomd) return nullptr;
  for (const auto& state : *view.oomd) {
    if (state.present && state.rule.path == path) return &state;
  }
  return nullptr;
}

// The signal's value on the system, or on one cgroup (its row in config/signals.cpp).
std::optional<double> system_value(const SignalInfo& signal, const Snapshot& snapshot) {
  return signal.system_value ? signal.system_value(snapshot) : std::nullopt;
}
std::optional<double> cgroup_value(const SignalInfo& signal, const Snapshot& snapshot, std::string_view path,
                                   const CgroupSample* sample, const OomdCgroupState* oomd) {
  return signal.cgroup_value ? signal.cgroup_value({snapshot, path, sample, oomd}) : std::nullopt;
}

// The most severe of the condition's values (above -> the highest, below -> the lowest; for a
// signal where lower is worse, the lowest), without collecting them: nullopt when there is none.
std::optional<Measurement> measure_worst(const Condition& condition, const ModelView& view) {
  const Snapshot& snapshot = *view.snapshot;
  const SignalInfo& signal = signal_info(condition.signal);
  std::optional<Measurement> worst;
  auto offer = [&](std::optional<double> value, std::string_view where) {
    if (!value) return;
    if (!worst || (signal.lower_is_worse ? *value < worst->value : *value > worst->value))
      worst = Measurement{*value, where};
  };
  if (signal.budget_value) {
    // The user's budget: one value, once the model has seen the user manager (the loader gives
    // these signals no other selector).
    if (view.budget && view.budget->known) offer(signal.budget_value(*view.budget), kUserBudgetSelector);
    return worst;
  }
  if (condition.cgroup == "system") {
    offer(system_value(signal, snapshot), "system");
    return worst;
  }
  if (condition.cgroup == "oomd-watched") {
    if (!view.oomd) return worst;
    for (const auto& state : *view.oomd) {
      if (!state.present) continue;
      const CgroupSample* sample = snapshot.find(state.rule.path);
      offer(cgroup_value(signal, snapshot, state.rule.path, sample, &state),
            display_path(state.rule.path, view));
    }
    return worst;
  }
  if (view.user_manager_path.empty()) return worst;
  if (condition.cgroup.find('*') == std::string::npos) {
    // A plain path names at most one cgroup: compare whole paths instead of globbing each one.
    for (const auto& sample : snapshot.cgroups) {
      auto relative = below_manager(sample.path, view.user_manager_path);
      if (!relative || *relative != condition.cgroup) continue;
      offer(cgroup_value(signal, snapshot, sample.path, &sample, find_oomd(view, sample.path)),
            condition.cgroup);
      break;
    }
    return worst;
  }
  for (const auto& sample : snapshot.cgroups) {
    auto relative = below_manager(sample.path, view.user_manager_path);
    if (!relative || !selector_matches(condition.cgroup, *relative)) continue;
    offer(cgroup_value(signal, snapshot, sample.path, &sample, find_oomd(view, sample.path)), *relative);
  }
  return worst;
}

struct Evaluation {
  bool holds = false;
  bool measured = false;  // false: no snapshot, no matching cgroup, or no data for the signal
};

// Evaluates `condition`; `text` (cleared first) receives the measured value and where it was
// measured: "full_avg10 of app.slice 42.10 > 40".
Evaluation evaluate_condition(const Condition& condition, const ModelView& view, std::string& text) {
  Evaluation result;
  const SignalInfo& info = signal_info(condition.signal);
  const bool above = condition.compare == Condition::Compare::Above;
  text.clear();
  text.append(info.name).append(" of ");
  if (!view.snapshot) {
    text.append(condition.cgroup).append(": no snapshot yet");
    return result;
  }
  const auto worst = measure_worst(condition, view);
  if (!worst) {
    text.append(condition.cgroup)
        .append(info.budget_value ? ": no value (the user's memory budget is not known yet)"
                                  : ": no value (no matching cgroup with data)");
    return result;
  }
  result.measured = true;
  result.holds = above ? worst->value > condition.threshold : worst->value < condition.threshold;
  text.append(worst->where).append(" ");
  append_value(text, info, worst->value);
  text.append(result.holds ? " " : ", not ").append(above ? ">" : "<").append(" ");
  append_value(text, info, condition.threshold);
  return result;
}

// Whether a condition of `conditions` holds; `text` then has the first one's measured text.
bool first_holding(const std::vector<Condition>& conditions, const ModelView& view, std::string& text) {
  for (const auto& condition : conditions) {
    if (evaluate_condition(condition, view, text).holds) return true;
  }
  return false;
}

// Makes `out` the `state` made consistent with `policy`: a level beyond the ladder (the policy
// shrank) is clamped, and a missing entry time counts from now (so hold restarts rather than
// being skipped). Assigned into `out`, whose storage is kept.
void normalize_into(const Policy& policy, const LadderState& state, MonoTime now, LadderState& out) {
  out.level = std::min(state.level, policy.levels.size());
  out.entered_at.assign(
      state.entered_at.begin(),
      state.entered_at.begin() + static_cast<std::ptrdiff_t>(std::min(state.entered_at.size(), out.level)));
  out.entered_at.resize(out.level, now);
  out.exit_true_since = state.exit_true_since;
  out.rebound_held_since = state.rebound_held_since;
  out.approach_short_at = out.level == 0 ? std::nullopt : state.approach_short_at;
}

// The level [approach] climbs to (1-based): its `level`, else the first.
size_t approach_level(const Policy& policy) {
  size_t level = 1;
  for (size_t i = 0; i < policy.levels.size(); ++i) {
    if (policy.levels[i].name == policy.approach.level) level = i + 1;
  }
  return level;
}

// The user's budget as the approach reads it at `level` (its level or above), or null: off,
// below its level, or no budget known.
const UserBudget* approach_budget_at(const Policy& policy, const ModelView& view, size_t level) {
  if (!policy.approach.enabled || level == 0 || level < approach_level(policy) || !view.budget ||
      !view.budget->known)
    return nullptr;
  return view.budget;
}

// A full budget (full_percent, with a refault reading): its slope is noise, the refaults decide.
bool approach_full(const Policy::Approach& approach, const UserBudget& budget) {
  return budget.used_percent >= approach.full_percent && budget.refault_file_per_second.has_value();
}

// The prediction that climbs the approach's level: not full, used_percent in use, and exhausted
// within `within` at the slope of its window.
bool approach_predicts_exhaustion(const Policy::Approach& approach, const UserBudget& budget) {
  return !approach_full(approach, budget) && budget.used_percent >= approach.used_percent &&
         budget.seconds_to_exhaustion < approach.within_seconds;
}

// Whether, at `level`, the user's working set does not fit right now: what holds the approach's
// level on (approach_climb's holds_on, and the calm hold before it is left).
bool approach_short_now(const Policy& policy, const ModelView& view, size_t level) {
  const UserBudget* budget = approach_budget_at(policy, view, level);
  return budget != nullptr && budget->refault_file_per_second.has_value() &&
         budget->used_percent >= policy.approach.used_percent &&
         *budget->refault_file_per_second >= policy.approach.hold_refault_pages_per_second;
}

// Whether, at `level`, the user's budget is still running out at the slope of [approach]'s window
// (used_percent in use, exhausted within `within`): the prediction that climbs the approach's
// level. The calm exit counts it as not calm, like the refaults. Without this a budget that filled
// up on the prediction left the level on its first full tick, before refaults (which come 2-3 s
// after the budget is reached) could hold it: sqj-s24-fg2 left `elevated` 1.7 s after the user
// reached its 1000M, its actions' relief masked by a third viewer's growth, and reverted them into
// the shortage (entered again 7 s later, the reverts failing on a Jellyfin that no longer answered).
bool approach_running_out_now(const Policy& policy, const ModelView& view, size_t level) {
  const UserBudget* budget = approach_budget_at(policy, view, level);
  return budget != nullptr && approach_predicts_exhaustion(policy.approach, *budget);
}

// What the rebound rule reads at `level`: the memory the level's actions hold back and where the
// budget would be with it back. nullopt when the rule does not apply (off, another level, no
// budget, nothing held back).
struct Rebound {
  bool holds = false;  // the budget would be at used_percent again
  uint64_t held_back_bytes = 0;
  double without_percent = 0;  // the budget's use if that came back
};
std::optional<Rebound> rebound_at(const Policy& policy, const ModelView& view, size_t level) {
  const auto& approach = policy.approach;
  if (!approach.enabled || approach.max_rebound_hold.count() <= 0 || level != approach_level(policy) ||
      !view.budget || !view.budget->known || level > view.action_relief_bytes.size())
    return std::nullopt;
  const UserBudget& budget = *view.budget;
  Rebound rebound;
  rebound.held_back_bytes = view.action_relief_bytes[level - 1];
  // The same whole as the budget's used_percent: the limit, or less when MemAvailable is short.
  const double whole = static_cast<double>(budget.used_bytes) + static_cast<double>(budget.room_bytes);
  if (rebound.held_back_bytes == 0 || whole <= 0) return std::nullopt;
  rebound.without_percent =
      (static_cast<double>(budget.used_bytes) + static_cast<double>(rebound.held_back_bytes)) / whole * 100.0;
  rebound.holds = rebound.without_percent >= approach.used_percent;
  return rebound;
}

// "its own actions hold back 232 MiB; without them the budget would be at 104%"
void append_rebound(std::string& out, const Rebound& rebound) {
  append_number(out, "its own actions hold back %.0f MiB",
                static_cast<double>(rebound.held_back_bytes) / (1024.0 * 1024.0));
  append_number(out, "; without them the budget would be at %.0f%%", rebound.without_percent);
}

}  // namespace

std::string level_name(const Policy& policy, size_t level) {
  if (level == 0) return "normal";
  if (level <= policy.levels.size()) return policy.levels[level - 1].name;
  return "level " + std::to_string(level);
}

bool evaluate(const Condition& condition, const ModelView& view, std::string* measured) {
  std::string text;
  const Evaluation evaluation = evaluate_condition(condition, view, text);
  if (measured) *measured = std::move(text);
  return evaluation.holds;
}

size_t approach_climb(const Policy& policy, const ModelView& view, std::string& reason,
                      size_t current_level) {
  const auto& approach = policy.approach;
  if (!approach.enabled || policy.levels.empty() || !view.budget || !view.budget->known) return 0;
  const UserBudget& budget = *view.budget;
  const size_t level = approach_level(policy);
  const std::optional<double>& refaults = budget.refault_file_per_second;
  // A full budget: its slope is noise around zero (memory.high holds it at the limit), so the
  // prediction would climb on every tick of +0.1 MiB/s and let go on every flat one. The
  // refaults decide instead; without a refault reading (no user manager) the slope still does.
  const bool full = approach_full(approach, budget);
  // Once at its level, the approach keeps it while the user is still near its budget and its
  // working set still does not fit (refaults at a quarter of the entry rate): what the level's
  // actions freed brings the budget below full, and without this the level was left on the
  // next flat tick and its actions reverted into the same shortage (sqj-s22-g2: six step-downs).
  const bool holds_on = approach_short_now(policy, view, current_level);
  char limits[160];
  int n = 0;
  if (full && *refaults >= approach.refault_pages_per_second) {
    reason.assign("the user's memory is exhausted and its working set no longer fits: ");
    append_budget_description(reason, budget);
    n = std::snprintf(limits, sizeof limits,
                      ", file refaults %.0f pages/s (approach: >= %.0f%% used, >= %.0f refaults/s)",
                      *refaults, approach.full_percent, approach.refault_pages_per_second);
  } else if (approach_predicts_exhaustion(approach, budget)) {
    reason.assign("the user's memory runs out: ");
    append_budget_description(reason, budget);
    n = std::snprintf(limits, sizeof limits, " (approach: >= %.0f%% used, exhausted within %.0f s)",
                      approach.used_percent, approach.within_seconds);
  } else if (holds_on) {
    reason.assign("the user's memory is still short: ");
    append_budget_description(reason, budget);
    n = std::snprintf(
        limits, sizeof limits,
        ", file refaults %.0f pages/s (approach: held while >= %.0f%% used and >= %.0f refaults/s)",
        *refaults, approach.used_percent, approach.hold_refault_pages_per_second);
  } else {
    return 0;
  }
  if (n > 0) reason.append(limits, std::min(static_cast<size_t>(n), sizeof limits - 1));
  return level;
}

std::optional<ApproachClimb> approach_climb(const Policy& policy, const ModelView& view,
                                            size_t current_level) {
  std::string reason;
  const size_t level = approach_climb(policy, view, reason, current_level);
  if (level == 0) return std::nullopt;
  return ApproachClimb{level, std::move(reason)};
}

Decision decide(const Policy& policy, const LadderState& state, const ModelView& view, MonoTime now) {
  Decision decision;
  DecideScratch scratch;
  decide(policy, state, view, now, decision, scratch);
  return decision;
}

void decide(const Policy& policy, const LadderState& state, const ModelView& view, MonoTime now,
            Decision& decision, DecideScratch& scratch) {
  normalize_into(policy, state, now, decision.next);
  decision.transitions.clear();
  decision.commands.clear();
  decision.rebound_hold_began.reset();
  std::string& explanation = decision.explanation;
  explanation.clear();
  LadderState& next = decision.next;
  const size_t current = next.level;
  if (approach_short_now(policy, view, current) || approach_running_out_now(policy, view, current))
    next.approach_short_at = now;

  // The highest level whose enter conditions hold.
  size_t target = 0;
  std::string& target_reason = scratch.reason;
  target_reason.clear();
  for (size_t level = policy.levels.size(); level >= 1; --level) {
    if (first_holding(policy.levels[level - 1].enter, view, target_reason)) {
      target = level;
      break;
    }
  }
  // The approach to the user's budget climbs before pressure shows, and holds its level while
  // the prediction stands (decide/ladder.h, model/user_budget.h).
  if (const size_t climb = approach_climb(policy, view, scratch.approach, current); climb > target) {
    target = climb;
    target_reason.swap(scratch.approach);
  }

  if (target > current) {
    for (size_t level = current + 1; level <= target; ++level) {
      const auto& actions = policy.levels[level - 1].actions;
      for (size_t index = 0; index < actions.size(); ++index) {
        decision.commands.push_back({ActionCommand::Kind::Apply, level, index});
      }
      next.entered_at.push_back(now);
    }
    next.level = target;
    next.exit_true_since.reset();
    next.rebound_held_since.reset();
    decision.transitions.push_back({current, target, target_reason});
    append_level(explanation, policy, target);
    explanation.append(": ").append(target_reason);
    return;
  }

  if (current == 0) {
    explanation.append("normal: no level's enter condition holds");
    if (!policy.levels.empty() && !policy.levels.front().enter.empty()) {
      evaluate_condition(policy.levels.front().enter.front(), view, scratch.condition);
      explanation.append(" (").append(policy.levels.front().name).append(" needs ");
      explanation.append(scratch.condition).append(")");
    }
    return;
  }

  const Level& level = policy.levels[current - 1];
  const std::string& name = level.name;
  if (target == current) {
    next.exit_true_since.reset();
    next.rebound_held_since.reset();
    explanation.append(name).append(": ").append(target_reason);
    return;
  }

  // No enter condition of this level holds. Do its exit conditions (all) hold? An exit condition
  // with nothing to measure (its cgroup is gone, or this host has no oomd-watched cgroup) cannot
  // keep the level up; if none can be measured, "no enter condition holds" is the exit.
  std::string& exit_text = scratch.exit;
  exit_text.clear();
  for (const auto& condition : level.exit) {
    const Evaluation evaluation = evaluate_condition(condition, view, scratch.condition);
    if (!evaluation.measured) continue;
    if (!evaluation.holds) {
      next.exit_true_since.reset();
      next.rebound_held_since.reset();
      explanation.append(name).append(": staying until ").append(scratch.condition);
      return;
    }
    if (!exit_text.empty()) exit_text.append("; ");
    exit_text.append(scratch.condition);
  }
  if (exit_text.empty()) exit_text.append("none of its enter conditions holds");
  if (!next.exit_true_since) next.exit_true_since = now;

  const auto held = std::chrono::duration_cast<std::chrono::microseconds>(now - next.entered_at[current - 1]);
  if (held < level.hold) {
    next.rebound_held_since.reset();
    explanation.append(name).append(": exit holds (").append(exit_text).append(") but hold ");
    append_seconds(explanation, level.hold);
    explanation.append(" is not over (");
    append_seconds(explanation, held);
    explanation.append(" so far)");
    return;
  }
  // The approach's level: calm for its whole hold first. Refaults under TCG and on a real desktop
  // come in bursts; one quiet 5-s window at a full budget is not the working set fitting again
  // (squeeze-jellyfin-short, s23: left at 100% of the budget, its actions reverted, entered again
  // 4 s later on 264 refaults/s).
  if (current == approach_level(policy) && next.approach_short_at) {
    const auto calm = std::chrono::duration_cast<std::chrono::microseconds>(now - *next.approach_short_at);
    if (calm < level.hold) {
      next.rebound_held_since.reset();
      explanation.append(name).append(": exit holds (").append(exit_text);
      append_number(explanation,
                    ") but the user's working set did not fit, or its budget was running out, %.1fs ago",
                    static_cast<double>(calm.count()) / 1e6);
      append_number(explanation, " (approach: calm for the level's hold, %.0fs, first)",
                    static_cast<double>(level.hold.count()) / 1e6);
      return;
    }
  }

  // The room may be the level's own doing: leaving would revert its actions and bring back the
  // memory they hold back (sqj-s22-g4: cap-bitrate's 232 MiB took the budget from full to 86%;
  // the level was left and entered again 2 s later). Held while that memory would fill the
  // budget to [approach]'s used_percent again, for at most max_rebound_hold at a stretch.
  if (const auto rebound = rebound_at(policy, view, current)) {
    exit_text.append("; ");
    append_rebound(exit_text, *rebound);
    if (rebound->holds) {
      if (!next.rebound_held_since) {
        next.rebound_held_since = now;
        decision.rebound_hold_began =
            Decision::ReboundHold{rebound->held_back_bytes, rebound->without_percent};
      }
      const auto stretch =
          std::chrono::duration_cast<std::chrono::microseconds>(now - *next.rebound_held_since);
      const auto most = policy.approach.max_rebound_hold;
      if (stretch < most) {
        explanation.append(name).append(": held: ");
        append_rebound(explanation, *rebound);
        append_number(explanation, " (approach: left below %.0f%%; held ", policy.approach.used_percent);
        append_seconds(explanation, stretch);
        explanation.append(" of at most ");
        append_seconds(explanation, most);
        explanation.append(")");
        return;
      }
      exit_text.append(", but max_rebound_hold ");
      append_seconds(exit_text, most);
      exit_text.append(" is over");
    } else {
      append_number(exit_text, ", below %.0f%%", policy.approach.used_percent);
    }
  }

  for (size_t index = level.actions.size(); index-- > 0;) {
    decision.commands.push_back({ActionCommand::Kind::Revert, current, index});
  }
  next.level = current - 1;
  next.entered_at.pop_back();
  if (next.level == 0) next.approach_short_at.reset();
  next.exit_true_since.reset();
  next.rebound_held_since.reset();
  decision.transitions.push_back({current, current - 1, exit_text});
  append_level(explanation, policy, current - 1);
  explanation.append(": left ").append(name).append(" after ");
  append_seconds(explanation, held);
  explanation.append(" (").append(exit_text).append(")");
}

Decision unwind(const Policy& policy, const LadderState& state) {
  Decision decision;
  const size_t from = std::min(state.level, policy.levels.size());
  for (size_t level = from; level >= 1; --level) {
    const auto& actions = policy.levels[level - 1].actions;
    for (size_t index = actions.size(); index-- > 0;) {
      decision.commands.push_back({ActionCommand::Kind::Revert, level, index});
    }
  }
  if (from > 0)
    decision.transitions.push_back({from, 0, "unwinding: guardian is stopping or the policy changed"});
  decision.next = LadderState{};
  decision.explanation = "normal: unwound";
  return decision;
}

}  // namespace guardian
