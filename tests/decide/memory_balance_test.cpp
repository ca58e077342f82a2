// slice.balance's controller (decide/memory_balance.h), hand-computed steps.
#include "decide/memory_balance.h"

#include <gtest/gtest.h>

#include <limits>

namespace guardian {
namespace {

constexpr uint64_t GiB = 1ULL << 30;

BalanceSettings band() {
  BalanceSettings settings;  // the incident machine: containers between 4G and 10G
  settings.floor_bytes = 4 * GiB;
  settings.ceiling_bytes = 10 * GiB;
  return settings;
}

TEST(MemoryBalance, ContainerPressureBacksOffWithTheSquareOfTheOvershoot) {
  // 20% stall against a 10% target: overshoot 1.0 -> 0.05 * 1^2 = +5%.
  auto step = balance_step(band(), {8 * GiB, 7 * GiB, 20.0, 0.0});
  ASSERT_TRUE(step.new_limit_bytes.has_value());
  EXPECT_EQ(*step.new_limit_bytes, static_cast<uint64_t>(8.0 * GiB * 1.05));
  // 30%: overshoot 2.0 -> 0.05 * 4 = +20%, capped at max_backoff 10%.
  step = balance_step(band(), {8 * GiB, 7 * GiB, 30.0, 0.0});
  EXPECT_EQ(*step.new_limit_bytes, static_cast<uint64_t>(8.0 * GiB * 1.10));
  EXPECT_NE(step.reason.find("back off"), std::string::npos);
}

TEST(MemoryBalance, DesktopPressureProbesDownSlowly) {
  // Desktop 15% against 10%: overshoot 0.5 -> 0.01 * 0.5 = -0.5% of 8G = 41 MiB (> 16 MiB step).
  auto step = balance_step(band(), {8 * GiB, 7 * GiB, 2.0, 15.0});
  ASSERT_TRUE(step.new_limit_bytes.has_value());
  EXPECT_EQ(*step.new_limit_bytes, static_cast<uint64_t>(8.0 * GiB * 0.995));
  // Far above target: still at most 1% per step.
  step = balance_step(band(), {8 * GiB, 7 * GiB, 2.0, 90.0});
  EXPECT_EQ(*step.new_limit_bytes, static_cast<uint64_t>(8.0 * GiB * 0.99));
}

TEST(MemoryBalance, ContainersWinOverTheDesktop) {
  // Both suffer: throttling the containers further would push them toward oomd's limit.
  auto step = balance_step(band(), {8 * GiB, 7 * GiB, 20.0, 50.0});
  ASSERT_TRUE(step.new_limit_bytes.has_value());
  EXPECT_GT(*step.new_limit_bytes, 8 * GiB);
}

TEST(MemoryBalance, StaysInTheBandAndSkipsTinySteps) {
  auto step = balance_step(band(), {4 * GiB, 4 * GiB, 0.0, 90.0});
  EXPECT_FALSE(step.new_limit_bytes.has_value());  // already at the floor
  step = balance_step(band(), {10 * GiB, 9 * GiB, 50.0, 0.0});
  EXPECT_FALSE(step.new_limit_bytes.has_value());  // already at the ceiling
  // Relax: +0.5% of 2 GiB would be 10 MiB < 16 MiB, but 2G is below the floor: moved to 4G.
  step = balance_step(band(), {2 * GiB, 1 * GiB, 0.0, 0.0});
  EXPECT_EQ(step.new_limit_bytes, 4 * GiB);
  // Infinity starts at the ceiling.
  step = balance_step(band(), {std::numeric_limits<uint64_t>::max(), 3 * GiB, 0.0, 0.0});
  EXPECT_EQ(step.new_limit_bytes, 10 * GiB);
  // A quiet system relaxes by 0.5% when that is worth a call: 6G -> +30.7 MiB.
  step = balance_step(band(), {6 * GiB, 5 * GiB, 0.0, 0.0});
  EXPECT_EQ(step.new_limit_bytes, static_cast<uint64_t>(6.0 * GiB * 1.005));
}

TEST(MemoryBalance, ALimitAboveTheCeilingIsNeverPulledDownToIt) {
  // The whole-user squeeze in the VM (sqs-s19-1): the user's own 800M on container.slice, the
  // default band 15%..33% of a 1964 MiB guest (294.6M..648.1M). "relax" moved it to 648M in one
  // step, before any pressure, and the stand-in's spike then hit its own slice's limit.
  constexpr uint64_t MiB = 1ULL << 20;
  BalanceSettings settings;
  settings.floor_bytes = 294 * MiB;
  settings.ceiling_bytes = 648 * MiB;
  auto step = balance_step(settings, {800 * MiB, 300 * MiB, 0.0, 0.0});  // relax
  EXPECT_FALSE(step.new_limit_bytes.has_value()) << step.reason;
  step = balance_step(settings, {800 * MiB, 700 * MiB, 40.0, 0.0});  // containers stall: back off
  EXPECT_FALSE(step.new_limit_bytes.has_value()) << step.reason;
  // A probe goes down by its fraction from where the limit is (1% of 8 GiB = 82 MiB), not to the ceiling.
  settings.ceiling_bytes = 4 * GiB;
  step = balance_step(settings, {8 * GiB, 3 * GiB, 0.0, 90.0});
  ASSERT_TRUE(step.new_limit_bytes.has_value());
  EXPECT_EQ(*step.new_limit_bytes, static_cast<uint64_t>(8.0 * GiB * 0.99));
  // 1% of 800M is 8 MiB, less than a step is worth: left alone.
  settings.ceiling_bytes = 648 * MiB;
  step = balance_step(settings, {800 * MiB, 300 * MiB, 0.0, 90.0});
  EXPECT_FALSE(step.new_limit_bytes.has_value()) << step.reason;
}

TEST(MemoryBalance, NoFirstLimitAtOrBelowWhatTheSliceUses) {
  // No MemoryHigh yet and the slice already uses 9.5G of the 10G ceiling: a first limit there
  // would throttle it at once.
  auto step = balance_step(band(), {std::numeric_limits<uint64_t>::max(), 9 * GiB + GiB / 2, 0.0, 0.0});
  EXPECT_FALSE(step.new_limit_bytes.has_value());
  EXPECT_NE(step.reason.find("left unlimited"), std::string::npos) << step.reason;
  // 9G: 9.9G < 10G, room enough.
  step = balance_step(band(), {std::numeric_limits<uint64_t>::max(), 9 * GiB, 0.0, 0.0});
  EXPECT_EQ(step.new_limit_bytes, 10 * GiB);
}

TEST(MemoryBalance, StallShareFromPsiTotals) {
  // 150 ms stalled over a 1 s interval = 15%.
  EXPECT_DOUBLE_EQ(stall_share_percent(1'000'000, 1'150'000, 1.0), 15.0);
  EXPECT_DOUBLE_EQ(stall_share_percent(5, 3, 1.0), 0.0);  // counter reset (cgroup recreated)
  EXPECT_DOUBLE_EQ(stall_share_percent(0, 5'000'000, 2.0), 100.0);
}

}  // namespace
}  // namespace guardian
