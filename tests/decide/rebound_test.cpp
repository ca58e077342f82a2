// [approach]'s rebound rule through decide(), with plain values: the default policy, no pressure
// anywhere (oomd's figures far below the exit thresholds), the user's budget and the memory the
// level's actions hold back as the VM's whole-user squeeze showed them (tests/vm, sqj-s22-g4,
// 1250M budget: elevated entered on a full, refaulting budget at +178.9 s; cap-bitrate made
// alice's client reload at 720p and jellyfin.service fell 565 -> 333 MiB; the budget sat at 86-87%
// with few refaults; the level was left after its 30 s hold and entered again 2 s later).
#include <gtest/gtest.h>

#include "config/policy_loader.h"
#include "decide/ladder.h"

namespace guardian {
namespace {

constexpr uint64_t MiB = 1ULL << 20;
constexpr char kManager[] = "/user.slice/user-1000.slice/user@1000.service";
constexpr double kLimitMiB = 1250;  // USER_HIGH=1250M
// The runs below refault (900 pages/s) until second 9: elevated, whose hold is 30 s, may be left
// only once it has been calm that long after the last refaulting tick.
constexpr int kCalm = 9 + 30;

Policy default_policy() {
  auto loaded = load_policy_or_default(std::nullopt, nullptr);
  EXPECT_TRUE(loaded.policy.has_value());
  return *loaded.policy;
}

UserBudget budget_at(double used_percent, double refaults) {
  UserBudget budget;
  budget.known = true;
  budget.limit_bytes = static_cast<uint64_t>(kLimitMiB * MiB);
  budget.limit_source = UserBudget::LimitSource::UserManagerHigh;
  budget.used_bytes = static_cast<uint64_t>(kLimitMiB * MiB * used_percent / 100.0);
  budget.room_bytes = budget.limit_bytes > budget.used_bytes ? budget.limit_bytes - budget.used_bytes : 0;
  budget.mem_available_bytes = 600 * MiB;
  budget.used_percent = used_percent;
  budget.slope_bytes_per_second = 0.0;
  budget.pgscan_per_second = refaults * 2;
  budget.refault_file_per_second = refaults;
  return budget;
}

// One tick of the run: the budget and what elevated's actions hold back at this second.
struct Tick {
  UserBudget budget;
  uint64_t held_back = 0;
  bool measured = true;  // false: no figure for the level (the view's list is empty)
};

struct Climbs {
  std::vector<std::pair<int, size_t>> changes;  // (second, level after)
  std::vector<std::string> reasons;             // each change's reason
  std::vector<int> holds_began;                 // seconds the rebound rule began to hold
  std::vector<std::string> held_explanations;   // the explanation on those seconds
};

template <typename At>
Climbs run(const Policy& policy, int seconds, At at) {
  Snapshot snapshot;
  snapshot.system_pressure = Psi{};
  const std::vector<OomdCgroupState> oomd;
  LadderState state;
  Climbs out;
  for (int second = 0; second <= seconds; ++second) {
    const Tick tick = at(second);
    const std::vector<uint64_t> relief{tick.held_back};
    snapshot.mono = MonoTime{} + std::chrono::seconds(second);
    ModelView view{&snapshot, &oomd, kManager, &tick.budget};
    if (state.level >= 1 && tick.measured) view.action_relief_bytes = relief;
    const Decision decision = decide(policy, state, view, snapshot.mono);
    if (decision.next.level != state.level) {
      out.changes.emplace_back(second, decision.next.level);
      out.reasons.push_back(decision.transitions.front().reason);
    }
    if (decision.rebound_hold_began) {
      out.holds_began.push_back(second);
      out.held_explanations.push_back(decision.explanation);
    }
    state = decision.next;
  }
  return out;
}

// g4: entered on refaults at a full budget; the actions free 232 MiB... here 230: the budget at
// 85% with 230 MiB held back, refaults 10/s (the working set fits). (85% of 1250 MiB + 230 MiB
// = 103% of it.) Before the rule: left after the 30-s hold, the cap reverted into the shortage.
TEST(Rebound, ALevelWhoseOwnActionsMadeTheRoomIsNotLeft) {
  const Policy policy = default_policy();
  ASSERT_EQ(policy.approach.level, "elevated");
  ASSERT_EQ(policy.levels.front().hold, std::chrono::seconds(30));
  const Climbs held = run(policy, 300, [](int second) {
    if (second < 10) return Tick{budget_at(100.0, 900.0), 0};
    return Tick{budget_at(85.0, 10.0), 230 * MiB};
  });
  ASSERT_EQ(held.changes.size(), 1u);
  EXPECT_EQ(held.changes[0], std::make_pair(0, size_t{1}));
  // once, when elevated had been calm for its 30-s hold after the last refaulting tick (9)
  ASSERT_EQ(held.holds_began, std::vector<int>{kCalm});
  EXPECT_EQ(held.held_explanations[0],
            "elevated: held: its own actions hold back 230 MiB; without them the budget would be at 103% "
            "(approach: left below 80%; held 0.0s of at most 600.0s)");
}

// The same, and then what was held back is gone: the acted-on cgroup went away or its memory
// came back by itself (the model gives 0), or the model has no figure for the level. It steps
// down on that tick (the hold is long over), not at 30 s.
TEST(Rebound, ReliefGoneTheLevelStepsDown) {
  const Policy policy = default_policy();
  for (const bool measured : {true, false}) {
    const Climbs left = run(policy, 200, [measured](int second) {
      if (second < 10) return Tick{budget_at(100.0, 900.0), 0};
      if (second < 60) return Tick{budget_at(85.0, 10.0), 230 * MiB};
      return Tick{budget_at(85.0, 10.0), 0, measured};
    });
    ASSERT_EQ(left.changes.size(), 2u) << measured;
    EXPECT_EQ(left.changes[0], std::make_pair(0, size_t{1}));
    EXPECT_EQ(left.changes[1], std::make_pair(60, size_t{0})) << measured;
    EXPECT_EQ(left.holds_began, std::vector<int>{kCalm});
  }
  // With nothing held back from the start (a policy whose actions act on no cgroup): left after
  // the calm hold, as before the rule.
  const Climbs never = run(policy, 200, [](int second) {
    return Tick{second < 10 ? budget_at(100.0, 900.0) : budget_at(85.0, 10.0), 0};
  });
  ASSERT_EQ(never.changes.size(), 2u);
  EXPECT_EQ(never.changes[1], std::make_pair(kCalm, size_t{0}));
  EXPECT_TRUE(never.holds_began.empty());
}

// Relief that never comes back (the viewers stopped by themselves, the budget stays near full
// with other things): held for max_rebound_hold (10 min) from the first tick it held, then left.
TEST(Rebound, MaxReboundHoldBoundsIt) {
  Policy policy = default_policy();
  ASSERT_EQ(policy.approach.max_rebound_hold, std::chrono::minutes(10));
  auto at = [](int second) {
    if (second < 10) return Tick{budget_at(100.0, 900.0), 0};
    return Tick{budget_at(85.0, 10.0), 230 * MiB};
  };
  const Climbs bounded = run(policy, 900, at);
  ASSERT_EQ(bounded.changes.size(), 2u);
  EXPECT_EQ(bounded.changes[1], std::make_pair(kCalm + 600, size_t{0}));
  EXPECT_NE(bounded.reasons[1].find("its own actions hold back 230 MiB; without them the budget would be at "
                                    "103%, but max_rebound_hold 600.0s is over"),
            std::string::npos)
      << bounded.reasons[1];
  // A shorter bound from the policy; "0s" turns the rule off.
  policy.approach.max_rebound_hold = std::chrono::seconds(45);
  EXPECT_EQ(run(policy, 300, at).changes.at(1), std::make_pair(kCalm + 45, size_t{0}));
  policy.approach.max_rebound_hold = std::chrono::seconds(0);
  EXPECT_EQ(run(policy, 300, at).changes.at(1), std::make_pair(kCalm, size_t{0}));
}

// The desktop freed memory (a browser closed): the budget falls to 50% while the actions still
// hold back 230 MiB; with that back it would be at 68%, below the approach's 80%: left.
TEST(Rebound, RoomFromElsewhereLetsTheLevelGo) {
  const Policy policy = default_policy();
  const Climbs left = run(policy, 200, [](int second) {
    if (second < 10) return Tick{budget_at(100.0, 900.0), 0};
    if (second < 40) return Tick{budget_at(85.0, 10.0), 230 * MiB};
    return Tick{budget_at(50.0, 10.0), 230 * MiB};
  });
  ASSERT_EQ(left.changes.size(), 2u);
  EXPECT_EQ(left.changes[1], std::make_pair(40, size_t{0}));
  EXPECT_EQ(left.holds_began, std::vector<int>{kCalm});
  EXPECT_NE(left.reasons[1].find("its own actions hold back 230 MiB; without them the budget would be at "
                                 "68%, below 80%"),
            std::string::npos)
      << left.reasons[1];
}

// The rule is [approach]'s: it holds the approach's level only, and each stretch is told once.
// A level above it (critical, entered on oomd's figures) steps down as before.
TEST(Rebound, OnlyTheApproachsLevelAndEachStretchToldOnce) {
  Policy policy = default_policy();
  Snapshot snapshot;
  snapshot.system_pressure = Psi{};
  std::vector<OomdCgroupState> oomd(1);
  oomd[0].rule.path = kManager;
  oomd[0].present = true;
  const UserBudget budget = budget_at(85.0, 10.0);
  const std::vector<uint64_t> relief{230 * MiB, 230 * MiB};
  LadderState state;
  state.level = 2;  // critical, entered at 0 over elevated
  state.entered_at = {MonoTime{}, MonoTime{}};
  snapshot.mono = MonoTime{} + std::chrono::seconds(25);  // critical's 20-s hold is over
  ModelView view{&snapshot, &oomd, kManager, &budget, relief};
  Decision decision = decide(policy, state, view, snapshot.mono);
  ASSERT_EQ(decision.next.level, 1u);
  EXPECT_FALSE(decision.rebound_hold_began);
  // At elevated (hold over): held, told once; a tick that refaults again holds it on the
  // approach's own rule and ends the stretch (and then on its calm hold, 30 s from that tick);
  // the next stretch is told again.
  state = decision.next;
  state.entered_at = {MonoTime{}};
  int told = 0;
  for (int second = 31; second <= 70; ++second) {
    snapshot.mono = MonoTime{} + std::chrono::seconds(second);
    const UserBudget refaulting = budget_at(85.0, 200.0);
    view.budget = second == 35 ? &refaulting : &budget;
    decision = decide(policy, state, view, snapshot.mono);
    ASSERT_EQ(decision.next.level, 1u) << second;
    if (decision.rebound_hold_began) ++told;
    state = decision.next;
  }
  EXPECT_EQ(told, 2);
}

}  // namespace
}  // namespace guardian
