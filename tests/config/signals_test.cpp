// The signal table (config/signals.cpp): each row is consistent with itself — a signal measured on
// the system can be read there, its default selector is one it can be measured on — and reads the
// values the ladder compares, on the incident machine's figures (seed 002: container.slice at
// full avg10 86.09 against oomd's 80% limit, 8 s of its 20 s over it).
#include "config/signals.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

namespace guardian {
namespace {

TEST(Signals, EveryRowIsConsistentWithItself) {
  std::set<std::string_view> names;
  for (const SignalInfo& info : signal_table()) {
    SCOPED_TRACE(std::string(info.name));
    EXPECT_TRUE(names.insert(info.name).second) << "duplicate name";
    EXPECT_EQ(signal_from_name(info.name), info.signal);
    EXPECT_EQ(signal_name(info.signal), info.name);
    EXPECT_EQ(&signal_info(info.signal), &info);
    EXPECT_EQ(info.on_system, info.system_value != nullptr);
    EXPECT_EQ(info.on_cgroup, info.cgroup_value != nullptr);
    EXPECT_EQ(info.on_user_budget, info.budget_value != nullptr);
    EXPECT_TRUE(info.on_system || info.on_cgroup || info.on_user_budget);
    // The user's budget is one value: a signal read there is read nowhere else.
    if (info.on_user_budget) {
      EXPECT_FALSE(info.on_system || info.on_cgroup);
    }
    EXPECT_EQ(info.default_cgroup == kUserBudgetSelector, info.on_user_budget) << info.default_cgroup;
    if (!info.on_user_budget) {
      EXPECT_TRUE(info.default_cgroup == "system" ? info.on_system : info.on_cgroup) << info.default_cgroup;
    }
    EXPECT_GT(info.max, 0);
    EXPECT_EQ(std::isinf(info.max), info.too_high.empty()) << "a bounded range says why";
  }
  EXPECT_EQ(signal_names().size(), signal_table().size());
  EXPECT_FALSE(signal_from_name("full_avg300").has_value());
}

TEST(Signals, ReadTheIncidentFigures) {
  const std::string manager = "/user.slice/user-1000.slice/user@1000.service";
  Snapshot snapshot;
  snapshot.meminfo.total_bytes = 30ULL << 30;
  snapshot.meminfo.available_bytes = 3ULL << 30;
  snapshot.system_pressure = Psi{{61.5, 40.0, 12.0, 0}, {48.2, 30.1, 9.0, 0}};
  CgroupSample slice;
  slice.path = manager + "/container.slice";
  slice.pressure = Psi{{90.3, 70.2, 20.0, 0}, {86.09, 60.5, 15.0, 0}};
  slice.memory.current_bytes = 9ULL << 30;
  slice.memory.high_bytes = 8ULL << 30;
  snapshot.cgroups.push_back(slice);
  snapshot.triggers_fired = {slice.path};
  OomdCgroupState oomd;
  oomd.rule = {slice.path, "container.slice", 80.0, std::chrono::seconds(20), "slice.d"};
  oomd.present = true;
  oomd.full_avg10 = 86.09;
  oomd.seconds_until_kill = 12.0;

  const CgroupReading cgroup{snapshot, slice.path, &snapshot.cgroups[0], &oomd};
  auto on_cgroup = [&](Signal signal) { return signal_info(signal).cgroup_value(cgroup); };
  auto on_system = [&](Signal signal) { return signal_info(signal).system_value(snapshot); };
  EXPECT_DOUBLE_EQ(*on_cgroup(Signal::FullAvg10), 86.09);
  EXPECT_DOUBLE_EQ(*on_cgroup(Signal::SomeAvg60), 70.2);
  EXPECT_NEAR(*on_cgroup(Signal::OomdLimitPercent), 107.6125, 1e-9);
  EXPECT_DOUBLE_EQ(*on_cgroup(Signal::SecondsUntilKill), 12.0);
  EXPECT_DOUBLE_EQ(*on_cgroup(Signal::MemoryHighPercent), 112.5);
  EXPECT_DOUBLE_EQ(*on_cgroup(Signal::TriggerFired), 1.0);
  EXPECT_DOUBLE_EQ(*on_system(Signal::FullAvg10), 48.2);
  EXPECT_DOUBLE_EQ(*on_system(Signal::MemAvailablePercent), 10.0);
  EXPECT_DOUBLE_EQ(*on_system(Signal::TriggerFired), 0.0);

  // Not watched by oomd: no kill on course; no pressure file: full avg10 is oomd's reading, if any.
  const CgroupReading unwatched{snapshot, slice.path, &snapshot.cgroups[0], nullptr};
  EXPECT_TRUE(std::isinf(*signal_info(Signal::SecondsUntilKill).cgroup_value(unwatched)));
  EXPECT_FALSE(signal_info(Signal::OomdLimitPercent).cgroup_value(unwatched).has_value());
  const CgroupReading no_file{snapshot, slice.path, nullptr, &oomd};
  EXPECT_DOUBLE_EQ(*signal_info(Signal::FullAvg10).cgroup_value(no_file), 86.09);
  EXPECT_FALSE(signal_info(Signal::SomeAvg10).cgroup_value(no_file).has_value());
}

// The budget signals read the model's UserBudget (model/user_budget.h): the sqg-proto-1 VM's user
// at 1.23 GiB of a 1.5 GiB budget (82%) growing 30 MiB/s, out of room in about 9 s.
TEST(Signals, ReadTheUserBudget) {
  UserBudget budget;
  budget.known = true;
  budget.used_bytes = 1260ULL << 20;
  budget.limit_bytes = 1536ULL << 20;
  budget.room_bytes = 276ULL << 20;
  budget.used_percent = 1260.0 / 1536.0 * 100.0;
  budget.slope_bytes_per_second = 30.0 * (1 << 20);
  budget.seconds_to_exhaustion = 276.0 / 30.0;
  EXPECT_NEAR(*signal_info(Signal::BudgetUsedPercent).budget_value(budget), 82.03, 0.01);
  EXPECT_DOUBLE_EQ(*signal_info(Signal::SecondsToBudgetExhausted).budget_value(budget), 9.2);
  // Not growing (or no slope yet): no run-out on course, like seconds_until_kill.
  budget.slope_bytes_per_second.reset();
  budget.seconds_to_exhaustion = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(std::isinf(*signal_info(Signal::SecondsToBudgetExhausted).budget_value(budget)));
  EXPECT_TRUE(signal_info(Signal::SecondsToBudgetExhausted).lower_is_worse);
  EXPECT_EQ(signal_from_name("seconds_to_budget_exhausted"), Signal::SecondsToBudgetExhausted);
  EXPECT_EQ(signal_info(Signal::BudgetUsedPercent).default_cgroup, "user");
}

}  // namespace
}  // namespace guardian
