#include "decide/memory_balance.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace guardian {

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

  const double clamped = std::clamp(target, static_cast<double>(floor), static_cast<double>(ceiling));
  const auto next = static_cast<uint64_t>(clamped);
  const uint64_t before = infinite ? std::numeric_limits<uint64_t>::max() : input.current_limit_bytes;
  if (infinite || before < floor || before > ceiling) {
    step.new_limit_bytes = next;  // outside the band: always move into it
    return step;
  }
  const uint64_t change = next > before ? next - before : before - next;
  if (change >= settings.min_step_bytes) step.new_limit_bytes = next;
  return step;
}

}  // namespace guardian
