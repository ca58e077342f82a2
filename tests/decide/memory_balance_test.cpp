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

TEST(MemoryBalance, StallShareFromPsiTotals) {
  // 150 ms stalled over a 1 s interval = 15%.
  EXPECT_DOUBLE_EQ(stall_share_percent(1'000'000, 1'150'000, 1.0), 15.0);
  EXPECT_DOUBLE_EQ(stall_share_percent(5, 3, 1.0), 0.0);  // counter reset (cgroup recreated)
  EXPECT_DOUBLE_EQ(stall_share_percent(0, 5'000'000, 2.0), 100.0);
}

}  // namespace
}  // namespace guardian
