#include "decide/slice_limits.h"

#include <cstdio>

#include "common/units.h"

namespace guardian {
namespace {

std::string limit_text(std::optional<uint64_t> bytes) { return bytes ? format_bytes(*bytes) : "infinity"; }

// The smallest limit that leaves `headroom` above `usage`.
uint64_t with_headroom(uint64_t usage, double headroom) {
  return static_cast<uint64_t>(static_cast<double>(usage) * (1.0 + headroom));
}

bool is_ancestor_or_self(std::string_view ancestor, std::string_view path) {
  if (ancestor == "/" || ancestor.empty()) return true;
  if (!path.starts_with(ancestor)) return false;
  return path.size() == ancestor.size() || path[ancestor.size()] == '/';
}

std::string percent_text(double value) {
  char buf[32];
  (void)std::snprintf(buf, sizeof buf, "%.1f%%", value);
  return buf;
}

}  // namespace

std::string_view plan_kind_name(SliceLimitPlan::Kind kind) {
  switch (kind) {
    case SliceLimitPlan::Kind::AlreadyThere: return "at the policy's value";
    case SliceLimitPlan::Kind::Keep: return "kept";
    case SliceLimitPlan::Kind::Set: return "would set";
    case SliceLimitPlan::Kind::RestoreUser: return "would restore";
    case SliceLimitPlan::Kind::Defer: return "deferred";
  }
  return "kept";
}

SliceLimitPlan plan_slice_limit(const SliceLimitInput& input) {
  SliceLimitPlan plan;
  const std::string property(input.property);
  const std::string wanted = format_bytes(input.wanted);
  auto set = [&](uint64_t target, std::string reason) {
    if (input.current == target) {
      plan.kind = SliceLimitPlan::Kind::AlreadyThere;
      plan.reason = property + " is " + format_bytes(target) + ": " + reason;
    } else {
      plan.kind = SliceLimitPlan::Kind::Set;
      plan.target = target;
      plan.reason = std::move(reason);
    }
    return plan;
  };
  if (input.hard)
    return set(input.wanted, "would set (hard correction): the policy's " + wanted + ", whatever is found");

  // The value that belongs to the user: the original guardian saved, else what is there now.
  const bool guardian_set = input.user_original.has_value();
  const std::optional<uint64_t> user = guardian_set ? *input.user_original : input.current;
  const std::string whose = guardian_set ? "the user's original " : "the user's ";

  if (user) {
    if (input.wanted > *user)
      return set(input.wanted, "would raise: " + whose + format_bytes(*user) + " -> the policy's " + wanted);
    // The policy asks for no more than the user has: the user's value stands.
    if (guardian_set && input.current != user) {
      plan.kind = SliceLimitPlan::Kind::RestoreUser;
      plan.target = user;
      plan.reason = "would restore " + whose + format_bytes(*user) + " (guardian's " +
                    limit_text(input.current) + " is no longer asked for: the policy's " + wanted +
                    " is not above it)";
      return plan;
    }
    plan.kind = SliceLimitPlan::Kind::Keep;
    plan.reason = std::string("kept: set by ") + (guardian_set ? "the user, restored" : "the user") + " (" +
                  format_bytes(*user) + "; the policy's " + wanted +
                  " is not above it, and guardian never lowers a limit it did not set)";
    return plan;
  }

  // No limit of the user's: the policy's value, but never below what the slice uses now.
  if (input.usage_bytes && input.wanted < with_headroom(*input.usage_bytes, input.headroom)) {
    if (guardian_set && input.current) {
      // guardian's earlier value goes back to the user's "none" rather than tightening further.
      plan.kind = SliceLimitPlan::Kind::RestoreUser;
      plan.target = std::nullopt;
      plan.reason = "would restore the user's infinity: the slice uses " + format_bytes(*input.usage_bytes) +
                    ", the policy's " + wanted + " would throttle it";
      return plan;
    }
    plan.kind = SliceLimitPlan::Kind::Defer;
    plan.reason =
        "deferred: the slice uses " + format_bytes(*input.usage_bytes) + ", the policy's " + wanted +
        " would " +
        (property == "MemoryMax" ? "make the kernel reclaim or kill inside it" : "throttle it at once") +
        "; set once it uses less than " + percent_text(100.0 / (1.0 + input.headroom)) + " of that";
    return plan;
  }
  return set(input.wanted,
             "would set where none is: the policy's " + wanted +
                 (input.usage_bytes ? " (the slice uses " + format_bytes(*input.usage_bytes) + ")" : ""));
}

Finding slice_limits_finding(const UnitProperties& slice, const ContainerSliceWanted& wanted,
                             const SavedSliceOriginals& saved) {
  Finding finding;
  finding.topic = "container.slice";
  finding.verdict = Finding::Verdict::Ok;
  std::string summary;
  bool lowers = false;
  bool deferred = false;
  bool changes = false;
  auto one = [&](const char* property, std::optional<uint64_t> found, std::optional<uint64_t> policy,
                 const std::optional<std::optional<uint64_t>>& original) {
    SliceLimitReport report;
    report.property = property;
    report.found = found;
    report.set_by = original ? "guardian" : "user";
    report.user_value = original ? *original : found;
    report.policy_value = policy;
    if (!policy) {
      report.plan = "kept";
      report.reason = "kept: the policy sets no " + std::string(property);
    } else {
      SliceLimitInput input;
      input.property = property;
      input.current = found;
      input.user_original = original;
      input.wanted = *policy;
      input.usage_bytes = slice.memory_current;
      input.hard = wanted.hard;
      const SliceLimitPlan plan = plan_slice_limit(input);
      report.plan = std::string(plan_kind_name(plan.kind));
      report.target = plan.target;
      report.reason = plan.reason;
      if (plan.kind == SliceLimitPlan::Kind::Set || plan.kind == SliceLimitPlan::Kind::RestoreUser) {
        changes = true;
        if (plan.kind == SliceLimitPlan::Kind::Set && report.user_value && plan.target &&
            *plan.target < *report.user_value)
          lowers = true;
      }
      deferred = deferred || plan.kind == SliceLimitPlan::Kind::Defer;
    }
    summary += (summary.empty() ? "" : "; ") + std::string(property) + " " + limit_text(found) +
               (original ? " (set by guardian)" : "") + ": " + report.reason;
    finding.detail += (finding.detail.empty() ? "" : "\n") + std::string(property) + ": found " +
                      limit_text(found) + ", set by " + report.set_by + ", the policy's " +
                      (policy ? format_bytes(*policy) : std::string("none")) + " -> " + report.plan;
    finding.limits.push_back(std::move(report));
  };
  one("MemoryHigh", slice.memory_high, wanted.memory_high, saved.memory_high);
  one("MemoryMax", slice.memory_max, wanted.memory_max, saved.memory_max);
  finding.summary = "container.slice limits: " + summary;
  if (lowers) {
    finding.verdict = Finding::Verdict::Warning;
    finding.next_step =
        "[container_slice] correction = \"hard\" lowers a limit below yours and can throttle the "
        "containers at once; remove it to keep your limits";
  } else if (deferred) {
    finding.verdict = Finding::Verdict::Warning;
    finding.next_step =
        "the slice uses more than the policy's value: raise [container_slice] memory_high/memory_max, or set "
        "your own limit in ~/.config/systemd/user/container.slice";
  } else if (changes) {
    finding.verdict = Finding::Verdict::Info;
  }
  return finding;
}

std::vector<WatchedPressure> watched_pressures(std::span<const OomdCgroupState> states) {
  std::vector<WatchedPressure> out;
  for (const auto& state : states) {
    if (!state.present) continue;
    out.push_back({state.rule.path, state.rule.limit_percent, state.full_avg10, state.stall_share_percent,
                   state.seconds_until_kill});
  }
  return out;
}

LowerVerdict may_lower_limit(std::string_view cgroup, std::span<const WatchedPressure> watched,
                             const LowerGuardSettings& settings) {
  LowerVerdict verdict;
  for (const auto& w : watched) {
    if (w.limit_percent <= 0 || !is_ancestor_or_self(w.path, cgroup)) continue;
    const double share = w.full_avg10 / w.limit_percent * 100.0;
    const bool rising = w.stall_share_percent && *w.stall_share_percent > w.full_avg10;
    std::string why;
    if (share >= settings.hot_percent_of_limit) {
      why = "at " + percent_text(share) + " of oomd's limit";
    } else if (rising && share >= settings.rising_percent_of_limit) {
      why = "rising, at " + percent_text(share) + " of oomd's limit";
    } else if (w.seconds_until_kill && *w.seconds_until_kill < settings.kill_within_seconds) {
      char buf[48];
      (void)std::snprintf(buf, sizeof buf, "a kill predicted in %.0f s", *w.seconds_until_kill);
      why = buf;
    }
    if (why.empty()) continue;
    verdict.allowed = false;
    verdict.reason = "not lowering: systemd-oomd watches " + std::string(w.path) +
                     (w.path == cgroup ? " itself" : ", which holds it,") + " and its full avg10 " +
                     percent_text(w.full_avg10) + " is " + why + " — a lower limit would add stall there";
    return verdict;
  }
  return verdict;
}

}  // namespace guardian
