// When the daemon tries a failed apply again (an action whose failure may pass: Jellyfin did not
// answer, the bus was busy). Pure, so the schedule is testable with plain values.
//
// Quickly at first (1 s, 2 s, 4 s, 8 s, 16 s: a restart or a dropped connection), then every
// 30 s for as long as the action's level holds. The retries once stopped after six tries; at a
// full user budget Jellyfin did not answer for the half-minute of those six and answered later,
// while the level still held and what its actions would free was still needed (the VM's
// whole-user squeeze on Fedora's rule, sqj-s23-fg1/fg2/fg5).
#pragma once

#include <chrono>
#include <string>

namespace guardian {

inline constexpr unsigned kQuickApplyRetries = 5;
inline constexpr std::chrono::seconds kApplyRetryEvery{30};

// The wait before the try after `failed` failures (1 = the first apply failed).
constexpr std::chrono::seconds apply_retry_wait(unsigned failed) {
  if (failed == 0) return std::chrono::seconds(0);
  return failed <= kQuickApplyRetries ? std::chrono::seconds(1LL << (failed - 1)) : kApplyRetryEvery;
}

// What the failure's event adds: " (trying again in 2 s, 2 of 5, then every 30 s while this level
// holds)", " (tried 7 times; again in 30 s while this level holds)".
inline std::string apply_retry_note(unsigned failed) {
  const auto wait = std::to_string(apply_retry_wait(failed).count());
  if (failed <= kQuickApplyRetries)
    return " (trying again in " + wait + " s, " + std::to_string(failed) + " of " +
           std::to_string(kQuickApplyRetries) + ", then every " + std::to_string(kApplyRetryEvery.count()) +
           " s while this level holds)";
  return " (tried " + std::to_string(failed) + " times; again in " + wait + " s while this level holds)";
}

}  // namespace guardian
