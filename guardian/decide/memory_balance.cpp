#include "decide/memory_balance.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace guardian {
namespace {

// A first limit must leave this much room above the slice's use (the same 10% as
// [container_slice]'s SliceLimitInput::headroom, decide/slice_limits.h).
constexpr double kRoomAboveUsage = 1.10;

}  // namespace

double stall_share_percent(uint64_t total_before_us, uint64_t total_after_us, double interval_seconds) {
  if (interval_seconds <= 0 || total_after_us < total_before_us) return 0;
  const double stalled_seconds = static_cast<double>(total_after_us - total_before_us) / 1e6;
  return std::clamp(stalled_seconds / interval_seconds * 100.0, 0.0, 100.0);
}

BalanceStep balance_step(const BalanceSettings& settings, const BalanceInput& input) {
  BalanceStep step;
  const uint64_t floor = std::min(settings.floor_bytes, settings.ceiling_bytes);
  const uint64_t ceiling = std::max(settings.floor_bytes, settings.ceiling_bytes);
  // An infinite limit is treated as the ceiling: balancing starts from the top and probes down.
  const bool infinite = input.current_limit_bytes == std::numeric_limits<uint64_t>::max();
  const double current = static_cast<double>(infinite ? ceiling : input.current_limit_bytes);
  double target = current;
  bool upward = true;  // back off and relax raise the limit; only a probe lowers it
  char reason[160];

  if (input.container_stall_percent > settings.container_target_percent) {
    const double overshoot = (input.container_stall_percent - settings.container_target_percent) /
                             settings.container_target_percent;
    const double fraction = std::min(settings.coeff_backoff * overshoot * overshoot, settings.max_backoff);
    target = current * (1.0 + fraction);
    std::snprintf(reason, sizeof reason, "containers stall %.1f%% > %.1f%%: back off +%.1f%%",
                  input.container_stall_percent, settings.container_target_percent, fraction * 100);
  } else if (input.desktop_stall_percent > settings.desktop_target_percent) {
    const double overshoot =
        (input.desktop_stall_percent - settings.desktop_target_percent) / settings.desktop_target_percent;
    const double fraction = std::min(settings.max_probe * overshoot, settings.max_probe);
    target = current * (1.0 - fraction);
    upward = false;
    std::snprintf(reason, sizeof reason,
                  "desktop stall %.1f%% > %.1f%%, containers %.1f%%: probe down -%.2f%%",
                  input.desktop_stall_percent, settings.desktop_target_percent, input.container_stall_percent,
                  fraction * 100);
  } else {
    target = current * (1.0 + settings.relax);
    std::snprintf(reason, sizeof reason, "no pressure (containers %.1f%%, desktop %.1f%%): relax +%.1f%%",
                  input.container_stall_percent, input.desktop_stall_percent, settings.relax * 100);
  }
  step.reason = reason;

  // A limit above the band (the user's own, or another tool's) is not pulled down into it: a
  // step meant to raise never lowers, and a probe goes down from where the limit is, by its
  // usual fraction (measured: "relax" took the user's 800M to the 648M ceiling in one step at
  // the start of a whole-user squeeze, sqs-s19-1). The band binds from below always.
  const double top = std::max(static_cast<double>(ceiling), current);
  const double clamped = std::clamp(target, static_cast<double>(floor), upward ? top : current);
  const auto next = static_cast<uint64_t>(clamped);
  const uint64_t before = infinite ? std::numeric_limits<uint64_t>::max() : input.current_limit_bytes;
  if (infinite) {
    // No limit yet: one may be set at the ceiling, but never at or below what the slice uses now
    // (it would throttle the containers the moment guardian acts).
    if (static_cast<double>(input.container_usage_bytes) * kRoomAboveUsage >= static_cast<double>(ceiling)) {
      step.new_limit_bytes.reset();
      step.reason += "; no limit set and the ceiling is not 10% above what the slice uses: left unlimited";
      return step;
    }
    step.new_limit_bytes = next;
    return step;
  }
  if (before < floor) {
    step.new_limit_bytes = next;  // below the band: always up into it
    return step;
  }
  const uint64_t change = next > before ? next - before : before - next;
  if (change >= settings.min_step_bytes) step.new_limit_bytes = next;
  return step;
}

}  // namespace guardian
