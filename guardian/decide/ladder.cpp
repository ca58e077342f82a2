// The ladder engine. Pure: the policy, the state and the model's view in; the next state and the
// commands out. See ladder.h for the contract; the rules in one place:
//  - climb to the highest level whose enter conditions (any) hold, applying the actions of every
//    level passed on the way, mildest first;
//  - otherwise, at level L whose enter conditions no longer hold, step down one level per tick
//    when L's exit conditions all hold (no exit conditions: "none of enter holds", which is already
//    true here) and L has been held for `hold` since it was entered; revert L's actions in reverse;
//  - between enter and exit thresholds nothing moves: that gap is the hysteresis.
#include "decide/ladder.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "config/signals.h"

namespace guardian {
namespace {

struct Measurement {
  double value = 0;
  std::string where;  // "system", "app.slice", or an absolute path outside the user manager
};

std::string format_value(const SignalInfo& signal, double value) {
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buf[48];
  (void)std::snprintf(buf, sizeof buf, signal.whole_number ? "%.0f" : "%.2f", value);
  return buf;
}

std::string format_seconds(std::chrono::microseconds duration) {
  char buf[48];
  (void)std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(duration.count()) / 1e6);
  return buf;
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

std::string display_path(std::string_view path, const ModelView& view) {
  if (auto relative = below_manager(path, view.user_manager_path)) return std::string(*relative);
  return std::string(path);
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

std::vector<Measurement> measure(const Condition& condition, const ModelView& view) {
  std::vector<Measurement> out;
  const Snapshot& snapshot = *view.snapshot;
  const SignalInfo& signal = signal_info(condition.signal);
  if (condition.cgroup == "system") {
    if (auto value = system_value(signal, snapshot)) out.push_back({*value, "system"});
    return out;
  }
  if (condition.cgroup == "oomd-watched") {
    if (!view.oomd) return out;
    for (const auto& state : *view.oomd) {
      if (!state.present) continue;
      const CgroupSample* sample = snapshot.find(state.rule.path);
      if (auto value = cgroup_value(signal, snapshot, state.rule.path, sample, &state)) {
        out.push_back({*value, display_path(state.rule.path, view)});
      }
    }
    return out;
  }
  if (view.user_manager_path.empty()) return out;
  if (condition.cgroup.find('*') == std::string::npos) {
    // A plain path names at most one cgroup: compare whole paths instead of globbing each one.
    const std::string path = view.user_manager_path + "/" + condition.cgroup;
    if (const CgroupSample* sample = snapshot.find(path)) {
      if (auto value = cgroup_value(signal, snapshot, path, sample, find_oomd(view, path))) {
        out.push_back({*value, condition.cgroup});
      }
    }
    return out;
  }
  for (const auto& sample : snapshot.cgroups) {
    auto relative = below_manager(sample.path, view.user_manager_path);
    if (!relative || !selector_matches(condition.cgroup, *relative)) continue;
    if (auto value = cgroup_value(signal, snapshot, sample.path, &sample, find_oomd(view, sample.path))) {
      out.push_back({*value, std::string(*relative)});
    }
  }
  return out;
}

struct Evaluation {
  bool holds = false;
  bool measured = false;  // false: no snapshot, no matching cgroup, or no data for the signal
  std::string text;
};

Evaluation evaluate_condition(const Condition& condition, const ModelView& view) {
  Evaluation result;
  const SignalInfo& info = signal_info(condition.signal);
  const std::string signal(info.name);
  const bool above = condition.compare == Condition::Compare::Above;
  if (!view.snapshot) {
    result.text = signal + " of " + condition.cgroup + ": no snapshot yet";
    return result;
  }
  const auto measurements = measure(condition, view);
  if (measurements.empty()) {
    result.text = signal + " of " + condition.cgroup + ": no value (no matching cgroup with data)";
    return result;
  }
  result.measured = true;
  // The most severe value decides: above -> any above, below -> all below (policy.h).
  const bool lower_worse = info.lower_is_worse;
  const Measurement* worst = &measurements.front();
  for (const auto& m : measurements) {
    if (lower_worse ? m.value < worst->value : m.value > worst->value) worst = &m;
  }
  result.holds = above ? worst->value > condition.threshold : worst->value < condition.threshold;
  result.text = signal + " of " + worst->where + " " + format_value(info, worst->value) +
                (result.holds ? " " : ", not ") + (above ? ">" : "<") + " " +
                format_value(info, condition.threshold);
  return result;
}

// The first condition of `conditions` that holds, with its measured text.
std::optional<std::string> first_holding(const std::vector<Condition>& conditions, const ModelView& view) {
  for (const auto& condition : conditions) {
    auto evaluation = evaluate_condition(condition, view);
    if (evaluation.holds) return evaluation.text;
  }
  return std::nullopt;
}

// Makes `state` consistent with `policy`: a level beyond the ladder (the policy shrank) is clamped,
// and a missing entry time counts from now (so hold restarts rather than being skipped).
LadderState normalized(const Policy& policy, const LadderState& state, MonoTime now) {
  LadderState out = state;
  out.level = std::min(out.level, policy.levels.size());
  out.entered_at.resize(out.level, now);
  return out;
}

}  // namespace

std::string level_name(const Policy& policy, size_t level) {
  if (level == 0) return "normal";
  if (level <= policy.levels.size()) return policy.levels[level - 1].name;
  return "level " + std::to_string(level);
}

bool evaluate(const Condition& condition, const ModelView& view, std::string* measured) {
  Evaluation evaluation = evaluate_condition(condition, view);
  if (measured) *measured = std::move(evaluation.text);
  return evaluation.holds;
}

Decision decide(const Policy& policy, const LadderState& state, const ModelView& view, MonoTime now) {
  Decision decision;
  decision.next = normalized(policy, state, now);
  LadderState& next = decision.next;
  const size_t current = next.level;

  // The highest level whose enter conditions hold.
  size_t target = 0;
  std::string target_reason;
  for (size_t level = policy.levels.size(); level >= 1; --level) {
    if (auto reason = first_holding(policy.levels[level - 1].enter, view)) {
      target = level;
      target_reason = std::move(*reason);
      break;
    }
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
    decision.transitions.push_back({current, target, target_reason});
    decision.explanation = level_name(policy, target) + ": " + target_reason;
    return decision;
  }

  if (current == 0) {
    std::string closest;
    if (!policy.levels.empty() && !policy.levels.front().enter.empty()) {
      std::string text;
      evaluate(policy.levels.front().enter.front(), view, &text);
      closest = " (" + policy.levels.front().name + " needs " + text + ")";
    }
    decision.explanation = "normal: no level's enter condition holds" + closest;
    return decision;
  }

  const Level& level = policy.levels[current - 1];
  const std::string name = level_name(policy, current);
  if (target == current) {
    next.exit_true_since.reset();
    decision.explanation = name + ": " + target_reason;
    return decision;
  }

  // No enter condition of this level holds. Do its exit conditions (all) hold? An exit condition
  // with nothing to measure (its cgroup is gone, or this host has no oomd-watched cgroup) cannot
  // keep the level up; if none can be measured, "no enter condition holds" is the exit.
  std::string exit_text;
  for (const auto& condition : level.exit) {
    auto evaluation = evaluate_condition(condition, view);
    if (!evaluation.measured) continue;
    if (!evaluation.holds) {
      next.exit_true_since.reset();
      decision.explanation = name + ": staying until " + evaluation.text;
      return decision;
    }
    exit_text += (exit_text.empty() ? "" : "; ") + evaluation.text;
  }
  if (exit_text.empty()) exit_text = "none of its enter conditions holds";
  if (!next.exit_true_since) next.exit_true_since = now;

  const auto held = std::chrono::duration_cast<std::chrono::microseconds>(now - next.entered_at[current - 1]);
  if (held < level.hold) {
    decision.explanation = name + ": exit holds (" + exit_text + ") but hold " + format_seconds(level.hold) +
                           " is not over (" + format_seconds(held) + " so far)";
    return decision;
  }

  for (size_t index = level.actions.size(); index-- > 0;) {
    decision.commands.push_back({ActionCommand::Kind::Revert, current, index});
  }
  next.level = current - 1;
  next.entered_at.pop_back();
  next.exit_true_since.reset();
  decision.transitions.push_back({current, current - 1, exit_text});
  decision.explanation = level_name(policy, current - 1) + ": left " + name + " after " +
                         format_seconds(held) + " (" + exit_text + ")";
  return decision;
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
