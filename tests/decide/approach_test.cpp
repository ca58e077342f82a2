// [approach] through the model and the ladder: the default policy fed a ramp shaped like the
// Debian 12 VM's whole-user run (tests/vm, sqg-proto-1). There, in seconds relative to the user
// reaching its budget: memory.current >= 80% of its limit at -5..-12 s, "reaches the limit within
// 60 s at its 5-s slope" at -24..-38 s, pressure onset (full >= 20%) at +1 s, oomd's kill at about
// +35 s. The ramp here: user-1000.slice capped at 1536M, the user at 600M, then growing 30 MiB/s
// with +-6 MiB of jitter from t = 0, so it reaches 1536M at t = 31.2 s (the "0" of the VM's
// figures); no pressure at all until then, so only the approach can climb.
#include <gtest/gtest.h>

#include <cmath>

#include "act/action.h"
#include "config/policy_loader.h"
#include "decide/ladder.h"
#include "model/user_budget.h"

namespace guardian {
namespace {

constexpr uint64_t MiB = 1ULL << 20;
constexpr char kManager[] = "/user.slice/user-1000.slice/user@1000.service";
constexpr double kBudgetReached = (1536.0 - 600.0) / 30.0;  // 31.2 s
constexpr double kOomdKill = kBudgetReached + 35.0;         // the VM's kill without guardian

Snapshot ramp_at(int second) {
  Snapshot snapshot;
  snapshot.mono = MonoTime{} + std::chrono::seconds(second);
  const double jitter = (second % 3 == 0 ? 6.0 : second % 3 == 1 ? -6.0 : 0.0) * MiB;
  const double used = std::min(600.0 * MiB + 30.0 * MiB * second + jitter, 1530.0 * MiB);
  snapshot.meminfo = {2048 * MiB, 2048 * MiB - static_cast<uint64_t>(used) - 200 * MiB, 0, 0};
  snapshot.system_pressure = Psi{};
  snapshot.user_ancestors_limit_bytes = 1536 * MiB;
  CgroupSample manager;
  manager.path = kManager;
  manager.unit = "user@1000.service";
  manager.memory.current_bytes = static_cast<uint64_t>(used);
  manager.pressure = Psi{};
  snapshot.cgroups.push_back(manager);
  return snapshot;
}

Policy default_policy() {
  auto loaded = load_policy_or_default(std::nullopt, nullptr);
  EXPECT_TRUE(loaded.policy.has_value());
  return *loaded.policy;
}

// Seconds (on the ramp's clock) of the first climb, or nullopt.
std::optional<int> first_climb(const Policy& policy, std::string* reason = nullptr) {
  UserBudgetModel model;
  model.set_window(policy.approach.window);
  LadderState state;
  const std::vector<OomdCgroupState> oomd;
  for (int second = 0; second <= 40; ++second) {
    Snapshot snapshot = ramp_at(second);
    model.observe(snapshot, kManager);
    ModelView view{&snapshot, &oomd, kManager, &model.budget()};
    Decision decision = decide(policy, state, view, snapshot.mono);
    state = decision.next;
    if (!decision.transitions.empty() &&
        decision.transitions.front().to > decision.transitions.front().from) {
      if (reason) *reason = decision.transitions.front().reason;
      return second;
    }
  }
  return std::nullopt;
}

TEST(Approach, TheDefaultPolicyClimbsOnTheRampBeforePressureShows) {
  const Policy policy = default_policy();
  ASSERT_TRUE(policy.approach.enabled);
  std::string reason;
  auto climb = first_climb(policy, &reason);
  ASSERT_TRUE(climb.has_value());
  // 80% of 1536M is 1229M, reached at t = 21: 10 s before the budget, 45 s before oomd's kill —
  // the issue's acceptance wants the first climb >= 30 s before that kill.
  EXPECT_GE(*climb, 20);
  EXPECT_LE(*climb, 22);
  EXPECT_GE(kOomdKill - *climb, 30.0);
  EXPECT_NE(reason.find("the user's memory runs out"), std::string::npos) << reason;
  EXPECT_NE(reason.find("a limit above the user manager"), std::string::npos) << reason;
}

TEST(Approach, OffOrALowerShareKeepsOrMovesTheClimb) {
  Policy policy = default_policy();
  policy.approach.enabled = false;
  EXPECT_FALSE(first_climb(policy).has_value());  // no pressure on this ramp: nothing else climbs

  policy = default_policy();
  policy.approach.used_percent = 0;  // on the prediction alone: as soon as the 5-s slope exists
  auto climb = first_climb(policy);
  ASSERT_TRUE(climb.has_value());
  EXPECT_LE(*climb, 5);  // the VM's "within 60 s" held at -24..-38 s; here at -26 s or earlier
}

TEST(Approach, ItHoldsItsLevelWhileThePredictionStandsAndNamesTheLevel) {
  Policy policy = default_policy();
  ASSERT_GE(policy.levels.size(), 2u);
  policy.approach.level = policy.levels[1].name;  // straight to "critical"
  UserBudgetModel model;
  LadderState state;
  const std::vector<OomdCgroupState> oomd;
  size_t highest = 0;
  for (int second = 0; second <= 30; ++second) {
    Snapshot snapshot = ramp_at(second);
    model.observe(snapshot, kManager);
    ModelView view{&snapshot, &oomd, kManager, &model.budget()};
    state = decide(policy, state, view, snapshot.mono).next;
    highest = std::max(highest, state.level);
    if (highest == 2) {
      EXPECT_EQ(state.level, 2u) << "left the level at " << second;
    }
  }
  EXPECT_EQ(highest, 2u);
}

// A hand-edited ladder can read the budget in its own conditions instead of [approach] (off
// here): on the ramp, 31.2 - t seconds are left, so "below 15" holds from t = 17 (at t = 16 the
// jitter leaves 15.4 s), and 95% of the 1536M budget (1459M) is passed at t = 29.
TEST(Approach, ALevelCanReadTheBudgetInItsOwnConditions) {
  auto loaded = parse_policy(R"(version = 1
[approach]
enabled = false
[[level]]
name = "running-out"
enter = [ { signal = "seconds_to_budget_exhausted", below = 15 } ]
exit = [ { signal = "seconds_to_budget_exhausted", above = 120 } ]
[[level]]
name = "nearly-out"
enter = [ { signal = "budget_used_percent", above = 95 } ]
)",
                             "budget.toml", nullptr);
  ASSERT_TRUE(loaded.policy.has_value()) << loaded.diagnostics.at(0).to_string();
  const Policy& policy = *loaded.policy;
  UserBudgetModel model;
  model.set_window(policy.approach.window);
  LadderState state;
  const std::vector<OomdCgroupState> oomd;
  std::optional<int> first[3];
  std::string reason;
  for (int second = 0; second <= 30; ++second) {
    Snapshot snapshot = ramp_at(second);
    model.observe(snapshot, kManager);
    ModelView view{&snapshot, &oomd, kManager, &model.budget()};
    Decision decision = decide(policy, state, view, snapshot.mono);
    state = decision.next;
    if (!first[state.level]) first[state.level] = second;
    if (state.level == 1 && reason.empty()) reason = decision.transitions.at(0).reason;
  }
  ASSERT_TRUE(first[1].has_value());
  EXPECT_EQ(*first[1], 17);
  EXPECT_EQ(reason.rfind("seconds_to_budget_exhausted of user ", 0), 0u) << reason;
  ASSERT_TRUE(first[2].has_value());
  EXPECT_EQ(*first[2], 29);
  EXPECT_GE(kOomdKill - *first[1], 30.0);
}

TEST(Approach, TheSectionIsValidated) {
  const std::string base = R"(version = 1
[[level]]
name = "elevated"
enter = [{ signal = "full_avg10", cgroup = "system", above = 20 }]
[[level]]
name = "critical"
enter = [{ signal = "full_avg10", cgroup = "system", above = 40 }]
)";
  auto parse = [&](const std::string& section) {
    return parse_policy(base + "\n[approach]\n" + section, "p.toml", nullptr);
  };
  auto ok = parse("level = \"critical\"\nwithin = \"45s\"\nused_percent = 85\nwindow = \"6s\"\n");
  ASSERT_TRUE(ok.policy.has_value()) << (ok.diagnostics.empty() ? "" : ok.diagnostics[0].to_string());
  EXPECT_EQ(ok.policy->approach.level, "critical");
  EXPECT_DOUBLE_EQ(ok.policy->approach.within_seconds, 45);
  EXPECT_DOUBLE_EQ(ok.policy->approach.used_percent, 85);
  auto bad = parse("level = \"critcal\"\n");
  ASSERT_FALSE(bad.policy.has_value());
  EXPECT_NE(bad.diagnostics[0].message.find("did you mean \"critical\""), std::string::npos)
      << bad.diagnostics[0].to_string();
  bad = parse("used_percent = 120\n");
  ASSERT_FALSE(bad.policy.has_value());
  bad = parse("window = \"1s\"\n");
  ASSERT_FALSE(bad.policy.has_value());
}

}  // namespace
}  // namespace guardian
