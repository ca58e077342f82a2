// The user's memory budget (model/user_budget.h) with plain values: a 2 GiB Debian 12 guest like
// the VM test bed's (tests/vm), the user manager capped from above by user-1000.slice.
#include "model/user_budget.h"

#include <gtest/gtest.h>

#include <cmath>

namespace guardian {
namespace {

constexpr uint64_t MiB = 1ULL << 20;
constexpr char kManager[] = "/user.slice/user-1000.slice/user@1000.service";

Snapshot at(double seconds, uint64_t used, uint64_t available = 900 * MiB) {
  Snapshot snapshot;
  snapshot.mono = MonoTime{} + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
  snapshot.meminfo = {2048 * MiB, available, 0, 0};
  CgroupSample manager;
  manager.path = kManager;
  manager.unit = "user@1000.service";
  manager.memory.current_bytes = used;
  snapshot.cgroups.push_back(manager);
  return snapshot;
}

TEST(UserBudget, TheSmallestLimitOfTheManagerAndItsAncestorsElseMemTotal) {
  UserBudgetModel model;
  Snapshot snapshot = at(0, 600 * MiB);
  model.observe(snapshot, kManager);
  EXPECT_EQ(model.budget().limit_source, UserBudget::LimitSource::MemTotal);
  // No limit of its own: the room is MemAvailable (900M), not MemTotal - used (1448M).
  EXPECT_EQ(model.budget().room_bytes, 900 * MiB);
  EXPECT_NEAR(model.budget().used_percent, 600.0 / 1500.0 * 100, 1e-9);

  snapshot.cgroups[0].memory.high_bytes = 1400 * MiB;
  snapshot.cgroups[0].memory.max_bytes = 1600 * MiB;
  snapshot.user_ancestors_limit_bytes = 1536 * MiB;  // user-1000.slice MemoryMax=1536M
  model.observe(snapshot, kManager);
  EXPECT_EQ(model.budget().limit_source, UserBudget::LimitSource::UserManagerHigh);
  EXPECT_EQ(model.budget().limit_bytes, 1400 * MiB);
  EXPECT_EQ(model.budget().room_bytes, 800 * MiB);
  snapshot.cgroups[0].memory.high_bytes.reset();
  model.observe(snapshot, kManager);
  EXPECT_EQ(model.budget().limit_source, UserBudget::LimitSource::Ancestor);
  EXPECT_EQ(model.budget().limit_bytes, 1536 * MiB);

  // Over its limit (memory.high can be exceeded): no room, 100%.
  snapshot.cgroups[0].memory.current_bytes = 1600 * MiB;
  model.observe(snapshot, kManager);
  EXPECT_EQ(model.budget().room_bytes, 0u);
  EXPECT_DOUBLE_EQ(model.budget().used_percent, 100.0);
}

TEST(UserBudget, WithoutAUserManagerTheMachineIsTheBudget) {
  UserBudgetModel model;
  model.observe(at(0, 0, 512 * MiB), "");
  ASSERT_TRUE(model.budget().known);
  EXPECT_EQ(model.budget().used_bytes, 1536 * MiB);
  EXPECT_EQ(model.budget().room_bytes, 512 * MiB);
  EXPECT_DOUBLE_EQ(model.budget().used_percent, 75.0);
}

TEST(UserBudget, NoSlopeUntilTheWindowHoldsEnough) {
  UserBudgetModel model;
  model.observe(at(0, 600 * MiB), kManager);
  model.observe(at(1, 630 * MiB), kManager);
  EXPECT_FALSE(model.budget().slope_bytes_per_second.has_value());
  EXPECT_TRUE(std::isinf(model.budget().seconds_to_exhaustion));
  model.observe(at(2, 660 * MiB), kManager);
  model.observe(at(3, 690 * MiB), kManager);
  ASSERT_TRUE(model.budget().slope_bytes_per_second.has_value());
  EXPECT_NEAR(*model.budget().slope_bytes_per_second, 30.0 * MiB, 1.0);
  // Room: MemAvailable 900M (no limit) -> 900/30 = 30 s.
  EXPECT_NEAR(model.budget().seconds_to_exhaustion, 30.0, 1e-6);
}

TEST(UserBudget, OneSpikeMovesTheSlopeLittle) {
  // Flat at 1300M with one reading 200M high (a burst of page cache, dropped at once): a two-point
  // difference would say +200M/s, then -200M/s; the median of the pairwise slopes stays near 0.
  UserBudgetModel model;
  for (int t = 0; t <= 10; ++t) {
    const uint64_t used = (t == 8 ? 1500 : 1300) * MiB + static_cast<uint64_t>(t % 2) * 4 * MiB;
    model.observe(at(t, used), kManager);
    if (t >= 3) {
      ASSERT_TRUE(model.budget().slope_bytes_per_second.has_value()) << t;
      EXPECT_LT(std::abs(*model.budget().slope_bytes_per_second), 45.0 * MiB) << "at " << t;
      EXPECT_GT(model.budget().seconds_to_exhaustion, 60.0) << "at " << t;
    }
  }
}

TEST(UserBudget, ScanAndRefaultRatesOverTheWindow) {
  UserBudgetModel model;
  for (int t = 0; t <= 5; ++t) {
    Snapshot snapshot = at(t, 1200 * MiB);
    snapshot.cgroups[0].memory.pgscan = 1000 + static_cast<uint64_t>(t) * 2048;
    snapshot.cgroups[0].memory.workingset_refault_file = 50 + static_cast<uint64_t>(t) * 300;
    model.observe(snapshot, kManager);
  }
  ASSERT_TRUE(model.budget().pgscan_per_second.has_value());
  EXPECT_DOUBLE_EQ(*model.budget().pgscan_per_second, 2048.0);
  EXPECT_DOUBLE_EQ(*model.budget().refault_file_per_second, 300.0);
}

TEST(UserBudget, DescribesItselfInOneLine) {
  UserBudgetModel model;
  for (int t = 0; t <= 4; ++t) {
    Snapshot snapshot = at(t, (1200 + 20 * static_cast<uint64_t>(t)) * MiB);
    snapshot.user_ancestors_limit_bytes = 1536 * MiB;
    model.observe(snapshot, kManager);
  }
  const std::string text = describe_budget(model.budget());
  EXPECT_NE(text.find("1.25 GiB used of 1.50 GiB"), std::string::npos) << text;
  EXPECT_NE(text.find("+20.0 MiB/s"), std::string::npos) << text;
  EXPECT_NE(text.find("exhausted in ~13 s"), std::string::npos) << text;
}

}  // namespace
}  // namespace guardian
