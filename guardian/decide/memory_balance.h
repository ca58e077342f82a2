// slice.balance's controller: where container.slice's MemoryHigh should go next, from the
// containers' and the desktop's memory pressure. Pure: plain values in, a limit out.
//
// Modelled on facebookincubator/senpai (senpai.py): each interval it compares the measured
// stall time with a target; above the target it backs off (raises the limit) by an amount that
// grows with the *square* of the overshoot, capped per step; below the target it probes (lowers
// the limit) slowly, by at most a small fraction per step. Senpai probes to find a cgroup's
// working set; here probing down only makes sense when the desktop needs the memory, so:
//  - containers' pressure above their target -> back off upward (squared, fast): a MemoryHigh
//    that throttles the slice raises pressure *inside* it, which is exactly what makes
//    systemd-oomd kill a container;
//  - else desktop's pressure above its target -> probe down (linear in the desktop's overshoot,
//    at most max_probe of the limit per step);
//  - else relax upward slowly toward the ceiling.
// Never below floor; never pulled down to the ceiling from a limit found above it (the user's
// own): raising steps leave such a limit alone and a probe lowers it by its usual fraction. With
// no limit, one is set at the ceiling only where that is 10% above what the slice uses. Changes
// smaller than min_step are not worth a D-Bus call.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace guardian {

struct BalanceSettings {
  uint64_t floor_bytes = 0;
  uint64_t ceiling_bytes = 0;
  // Targets: stall share over the interval, percent of wall time ("some" PSI of the cgroup).
  double container_target_percent = 10.0;  // senpai's default is 10 ms per 1 s interval: 1%
  double desktop_target_percent = 10.0;
  double max_probe = 0.01;      // at most 1% of the limit down per step (senpai: max_probe 0.01)
  double max_backoff = 0.10;    // at most 10% up per step (senpai: max_backoff 1.0 of the delta; capped here)
  double coeff_backoff = 0.05;  // backoff = coeff * (overshoot/target)^2
  double relax = 0.005;         // drift up per step when nobody is under pressure
  uint64_t min_step_bytes = 16ULL << 20;
};

struct BalanceInput {
  uint64_t current_limit_bytes = 0;    // container.slice MemoryHigh now (UINT64_MAX = infinity)
  uint64_t container_usage_bytes = 0;  // memory.current of the slice (base when the limit is infinite)
  double container_stall_percent = 0;  // stall share in the slice over the last interval
  double desktop_stall_percent = 0;    // stall share in the desktop's slices over the last interval
};

struct BalanceStep {
  std::optional<uint64_t> new_limit_bytes;  // nullopt: leave it
  std::string reason;                       // "containers 23.0% > 10.0%: back off +6.3%"
};

BalanceStep balance_step(const BalanceSettings& settings, const BalanceInput& input);

// Stall share (percent of wall time) from two readings of a PSI `total` counter (µs).
double stall_share_percent(uint64_t total_before_us, uint64_t total_after_us, double interval_seconds);

}  // namespace guardian
