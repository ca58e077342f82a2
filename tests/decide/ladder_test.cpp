// The ladder engine with plain values: a Fedora 42 desktop's user manager (uid 1000) where
// systemd-oomd watches every user slice at 80% for 20 s (Fedora's
// user/slice.d/10-oomd-per-slice-defaults.conf + DefaultMemoryPressureDurationSec=20s), and
// pressure figures shaped like the incident (user.slice full avg10 86–92% when oomd killed).
#include "decide/ladder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace guardian {
namespace {

using std::chrono::seconds;

constexpr char kManager[] = "/user.slice/user-1000.slice/user@1000.service";

std::string full_path(const std::string& relative) { return std::string(kManager) + "/" + relative; }

Psi psi(double some10, double full10, double some60 = 0, double full60 = 0) {
  Psi p;
  p.some = {some10, some60, 0, 0};
  p.full = {full10, full60, 0, 0};
  return p;
}

// The host as the model hands it to decide.
struct World {
  Snapshot snapshot;
  std::vector<OomdCgroupState> oomd;

  World() {
    snapshot.meminfo = {30ULL << 30, 12ULL << 30, 8ULL << 30, 8ULL << 30};  // 30 GB RAM + 8 GB swap
    snapshot.system_pressure = psi(0.5, 0.1);
    add_cgroup("app.slice", 0.2, 0.0);
    add_cgroup("session.slice", 0.1, 0.0);
    add_cgroup("user.slice", 0.3, 0.0);
    add_cgroup("container.slice", 0.1, 0.0);
    add_cgroup("container.slice/jellyfin.service", 0.1, 0.0);
    add_cgroup("container.slice/immich-server.service", 0.1, 0.0);
    add_cgroup("container.slice/immich-server.service/libpod-payload", 0.1, 0.0);
    for (const char* slice : {"app.slice", "session.slice", "user.slice", "container.slice"}) watch(slice);
  }

  CgroupSample& add_cgroup(const std::string& relative, double some10, double full10) {
    CgroupSample sample;
    sample.path = full_path(relative);
    sample.unit = relative.substr(relative.rfind('/') + 1);
    sample.pressure = psi(some10, full10);
    sample.memory.current_bytes = 1ULL << 30;
    snapshot.cgroups.push_back(sample);
    return snapshot.cgroups.back();
  }

  CgroupSample& cgroup(const std::string& relative) {
    for (auto& c : snapshot.cgroups) {
      if (c.path == full_path(relative)) return c;
    }
    throw std::runtime_error("no cgroup " + relative);
  }

  void watch(const std::string& relative) {
    OomdCgroupState state;
    state.rule.path = full_path(relative);
    state.rule.unit = relative;
    state.rule.limit_percent = 80.0;
    state.rule.duration = seconds(20);
    state.rule.source = "/usr/lib/systemd/user/slice.d/10-oomd-per-slice-defaults.conf";
    state.present = true;
    oomd.push_back(state);
  }

  OomdCgroupState& watched(const std::string& relative) {
    for (auto& s : oomd) {
      if (s.rule.path == full_path(relative)) return s;
    }
    throw std::runtime_error("not watched " + relative);
  }

  // Sets full avg10 of a watched slice in both the snapshot and the model's state.
  void set_full_avg10(const std::string& relative, double full10, std::optional<double> seconds_until_kill) {
    cgroup(relative).pressure->full.avg10 = full10;
    auto& state = watched(relative);
    state.full_avg10 = full10;
    state.limit_fraction = full10 / state.rule.limit_percent;
    state.over_limit = full10 > state.rule.limit_percent;
    state.seconds_until_kill = seconds_until_kill;
  }

  [[nodiscard]] ModelView view() const { return ModelView{&snapshot, &oomd, kManager}; }
};

Condition cond(Signal signal, std::string cgroup, Condition::Compare compare, double threshold) {
  Condition c;
  c.signal = signal;
  c.cgroup = std::move(cgroup);
  c.compare = compare;
  c.threshold = threshold;
  return c;
}
constexpr auto kAbove = Condition::Compare::Above;
constexpr auto kBelow = Condition::Compare::Below;

ActionSpec action(std::string type) {
  ActionSpec spec;
  spec.type = std::move(type);
  return spec;
}

// Three levels on oomd_limit_percent of any watched slice: enter at 50 / 75 / 90, exit at
// 30 / 50 / 70, each with two actions so order can be checked.
Policy three_level_policy(seconds hold = seconds(30)) {
  Policy policy;
  const double enter[] = {50, 75, 90};
  const double exit[] = {30, 50, 70};
  const char* names[] = {"elevated", "high", "critical"};
  for (int i = 0; i < 3; ++i) {
    Level level;
    level.name = names[i];
    level.hold = hold;
    level.enter = {cond(Signal::OomdLimitPercent, "oomd-watched", kAbove, enter[i])};
    level.exit = {cond(Signal::OomdLimitPercent, "oomd-watched", kBelow, exit[i])};
    level.actions = {action(std::string(names[i]) + ".first"), action(std::string(names[i]) + ".second")};
    policy.levels.push_back(level);
  }
  return policy;
}

// "apply elevated.first" style rendering of commands, for readable expectations.
std::vector<std::string> render(const Policy& policy, const Decision& decision) {
  std::vector<std::string> out;
  for (const auto& command : decision.commands) {
    out.push_back(std::string(command.kind == ActionCommand::Kind::Apply ? "apply " : "revert ") +
                  policy.levels[command.level - 1].actions[command.action_index].type);
  }
  return out;
}

const MonoTime t0 = MonoTime{} + std::chrono::hours(1);

TEST(Ladder, ClimbsToTheHighestLevelWhoseEnterHolds) {
  const Policy policy = three_level_policy();
  World world;
  // full avg10 62% of app.slice against oomd's 80% = 77.5% of the limit: "high", not "critical".
  world.set_full_avg10("app.slice", 62.0, 35.0);
  const Decision decision = decide(policy, LadderState{}, world.view(), t0);
  EXPECT_EQ(decision.next.level, 2u);
  ASSERT_EQ(decision.transitions.size(), 1u);
  EXPECT_EQ(decision.transitions[0].from, 0u);
  EXPECT_EQ(decision.transitions[0].to, 2u);
  EXPECT_EQ(decision.transitions[0].reason, "oomd_limit_percent of app.slice 77.50 > 75.00");
  EXPECT_EQ(decision.explanation, "high: oomd_limit_percent of app.slice 77.50 > 75.00");
  // Skipping a level still applies the skipped level's actions, mildest first.
  EXPECT_EQ(render(policy, decision),
            (std::vector<std::string>{"apply elevated.first", "apply elevated.second", "apply high.first",
                                      "apply high.second"}));
  EXPECT_EQ(decision.next.entered_at, (std::vector<MonoTime>{t0, t0}));
}

TEST(Ladder, JumpsStraightToTheTopAndOnlyAppliesLevelsNotYetActive) {
  const Policy policy = three_level_policy();
  World world;
  world.set_full_avg10("user.slice", 45.0, 60.0);  // 56.25% of the limit: elevated
  Decision first = decide(policy, LadderState{}, world.view(), t0);
  ASSERT_EQ(first.next.level, 1u);
  // The incident's Nov 17 figure: user.slice full avg10 at 92.16%, over oomd's 80%.
  world.set_full_avg10("user.slice", 92.16, 8.0);
  Decision second = decide(policy, first.next, world.view(), t0 + seconds(2));
  EXPECT_EQ(second.next.level, 3u);
  EXPECT_EQ(render(policy, second),
            (std::vector<std::string>{"apply high.first", "apply high.second", "apply critical.first",
                                      "apply critical.second"}));
  EXPECT_EQ(second.next.entered_at, (std::vector<MonoTime>{t0, t0 + seconds(2), t0 + seconds(2)}));
  EXPECT_EQ(second.transitions[0].reason, "oomd_limit_percent of user.slice 115.20 > 90.00");
}

TEST(Ladder, SawtoothAroundTheEnterThresholdDoesNotFlap) {
  // full avg10 of app.slice swings 32%..48% (40% of oomd's limit..60%) around the enter
  // threshold of 50% of the limit, every tick for two minutes.
  auto sawtooth = [](int tick) { return 32.0 + 2.0 * (tick % 9); };
  World world;

  const Policy policy = three_level_policy(seconds(0));
  LadderState state;
  int transitions = 0;
  for (int tick = 0; tick < 120; ++tick) {
    world.set_full_avg10("app.slice", sawtooth(tick), std::nullopt);
    Decision decision = decide(policy, state, world.view(), t0 + seconds(tick));
    transitions += static_cast<int>(decision.transitions.size());
    state = decision.next;
  }
  // Entered once (at 42% = 52.5% of the limit) and stayed: the exit threshold (30%) is never met.
  EXPECT_EQ(transitions, 1);
  EXPECT_EQ(state.level, 1u);

  // The same input against a ladder without hysteresis (exit = "enter no longer holds", no hold)
  // flaps on every period — what the exit band and hold are there to prevent.
  Policy no_hysteresis = policy;
  for (auto& level : no_hysteresis.levels) level.exit.clear();
  state = LadderState{};
  transitions = 0;
  for (int tick = 0; tick < 120; ++tick) {
    world.set_full_avg10("app.slice", sawtooth(tick), std::nullopt);
    Decision decision = decide(no_hysteresis, state, world.view(), t0 + seconds(tick));
    transitions += static_cast<int>(decision.transitions.size());
    state = decision.next;
  }
  EXPECT_GT(transitions, 20);
}

TEST(Ladder, HoldTimeKeepsALevelUntilItHasPassed) {
  const Policy policy = three_level_policy(seconds(30));
  World world;
  world.set_full_avg10("app.slice", 45.0, std::nullopt);
  LadderState state = decide(policy, LadderState{}, world.view(), t0).next;
  ASSERT_EQ(state.level, 1u);

  world.set_full_avg10("app.slice", 5.0, std::nullopt);  // 6.25% of the limit: exit holds
  Decision early = decide(policy, state, world.view(), t0 + seconds(5));
  EXPECT_EQ(early.next.level, 1u);
  EXPECT_TRUE(early.commands.empty());
  EXPECT_EQ(early.next.exit_true_since, t0 + seconds(5));
  EXPECT_EQ(early.explanation,
            "elevated: exit holds (oomd_limit_percent of app.slice 6.25 < 30.00) but hold 30.0s is not over "
            "(5.0s so far)");

  Decision still = decide(policy, early.next, world.view(), t0 + seconds(29));
  EXPECT_EQ(still.next.level, 1u);
  EXPECT_EQ(still.next.exit_true_since, t0 + seconds(5));  // kept while exit keeps holding

  Decision leave = decide(policy, still.next, world.view(), t0 + seconds(30));
  EXPECT_EQ(leave.next.level, 0u);
  EXPECT_EQ(render(policy, leave),
            (std::vector<std::string>{"revert elevated.second", "revert elevated.first"}));
  ASSERT_EQ(leave.transitions.size(), 1u);
  EXPECT_EQ(leave.transitions[0].from, 1u);
  EXPECT_EQ(leave.transitions[0].to, 0u);
  EXPECT_TRUE(leave.next.entered_at.empty());
  EXPECT_FALSE(leave.next.exit_true_since);
}

TEST(Ladder, BetweenEnterAndExitThresholdsItStays) {
  const Policy policy = three_level_policy(seconds(0));
  World world;
  world.set_full_avg10("app.slice", 45.0, std::nullopt);
  LadderState state = decide(policy, LadderState{}, world.view(), t0).next;
  world.set_full_avg10("app.slice", 32.0, std::nullopt);  // 40% of the limit: below enter, above exit
  Decision decision = decide(policy, state, world.view(), t0 + seconds(60));
  EXPECT_EQ(decision.next.level, 1u);
  EXPECT_TRUE(decision.commands.empty());
  EXPECT_EQ(decision.explanation,
            "elevated: staying until oomd_limit_percent of app.slice 40.00, not < 30.00");
}

TEST(Ladder, StepsDownOneLevelPerTickRevertingInReverseOrder) {
  const Policy policy = three_level_policy(seconds(10));
  World world;
  world.set_full_avg10("container.slice", 78.0, 10.0);  // 97.5% of the limit: critical
  LadderState state = decide(policy, LadderState{}, world.view(), t0).next;
  ASSERT_EQ(state.level, 3u);

  world.set_full_avg10("container.slice", 0.4, std::nullopt);
  std::vector<std::vector<std::string>> steps;
  for (int tick = 1; tick <= 4; ++tick) {
    Decision decision = decide(policy, state, world.view(), t0 + seconds(10 + tick));
    steps.push_back(render(policy, decision));
    state = decision.next;
  }
  EXPECT_EQ(state.level, 0u);
  EXPECT_EQ(steps, (std::vector<std::vector<std::string>>{{"revert critical.second", "revert critical.first"},
                                                          {"revert high.second", "revert high.first"},
                                                          {"revert elevated.second", "revert elevated.first"},
                                                          {}}));
}

TEST(Ladder, ExitNeedsEveryWatchedCgroupCalm) {
  // Exit "below" over oomd-watched holds only when all watched slices are below it.
  const Policy policy = three_level_policy(seconds(0));
  World world;
  world.set_full_avg10("app.slice", 45.0, std::nullopt);
  world.set_full_avg10("user.slice", 45.0, std::nullopt);
  LadderState state = decide(policy, LadderState{}, world.view(), t0).next;
  ASSERT_EQ(state.level, 1u);
  world.set_full_avg10("app.slice", 1.0, std::nullopt);
  world.set_full_avg10("user.slice", 30.0, std::nullopt);  // 37.5%: still above the exit at 30%
  Decision decision = decide(policy, state, world.view(), t0 + seconds(5));
  EXPECT_EQ(decision.next.level, 1u);
  EXPECT_EQ(decision.explanation,
            "elevated: staying until oomd_limit_percent of user.slice 37.50, not < 30.00");
}

TEST(Ladder, UnwindRevertsEverythingTopDown) {
  const Policy policy = three_level_policy();
  World world;
  world.set_full_avg10("app.slice", 62.0, 35.0);
  LadderState state = decide(policy, LadderState{}, world.view(), t0).next;
  ASSERT_EQ(state.level, 2u);
  const Decision decision = unwind(policy, state);
  EXPECT_EQ(decision.next.level, 0u);
  EXPECT_TRUE(decision.next.entered_at.empty());
  EXPECT_EQ(render(policy, decision),
            (std::vector<std::string>{"revert high.second", "revert high.first", "revert elevated.second",
                                      "revert elevated.first"}));
  ASSERT_EQ(decision.transitions.size(), 1u);
  EXPECT_EQ(decision.transitions[0].from, 2u);
  EXPECT_EQ(decision.transitions[0].to, 0u);

  EXPECT_TRUE(unwind(policy, LadderState{}).commands.empty());
  EXPECT_TRUE(unwind(policy, LadderState{}).transitions.empty());
}

TEST(Ladder, StateBeyondAShrunkenPolicyIsClamped) {
  Policy policy = three_level_policy(seconds(0));
  World world;
  LadderState state;
  state.level = 5;  // from a longer ladder before a reload
  state.entered_at.assign(5, t0);
  Decision decision = decide(policy, state, world.view(), t0 + seconds(1));
  // Clamped to 3 and, all calm, one step down.
  EXPECT_EQ(decision.next.level, 2u);
  EXPECT_EQ(decision.next.entered_at.size(), 2u);
  EXPECT_EQ(unwind(policy, state).commands.size(), 6u);
}

TEST(Ladder, MissingCgroupsMakeConditionsFalseNotCrashes) {
  World world;
  std::string text;
  EXPECT_FALSE(
      evaluate(cond(Signal::FullAvg10, "container.slice/nextcloud.service", kAbove, 0), world.view(), &text));
  EXPECT_EQ(text, "full_avg10 of container.slice/nextcloud.service: no value (no matching cgroup with data)");
  EXPECT_FALSE(evaluate(cond(Signal::FullAvg10, "container.slice/nextcloud.service", kBelow, 100),
                        world.view(), &text));

  // memory.pressure unreadable: no value either.
  world.cgroup("app.slice").pressure.reset();
  EXPECT_FALSE(evaluate(cond(Signal::SomeAvg10, "app.slice", kBelow, 100), world.view(), &text));

  // No snapshot yet, or system-only mode (no user manager, no oomd state).
  ModelView empty;
  EXPECT_FALSE(evaluate(cond(Signal::FullAvg10, "system", kBelow, 100), empty, &text));
  EXPECT_EQ(text, "full_avg10 of system: no snapshot yet");
  ModelView system_only{&world.snapshot, nullptr, ""};
  EXPECT_FALSE(evaluate(cond(Signal::OomdLimitPercent, "oomd-watched", kBelow, 100), system_only, &text));
  EXPECT_FALSE(evaluate(cond(Signal::SomeAvg10, "app.slice", kBelow, 100), system_only, &text));
  EXPECT_TRUE(evaluate(cond(Signal::SomeAvg10, "system", kBelow, 100), system_only, &text));

  // A ladder whose every condition names a cgroup that is not there stays at normal, and a level
  // reached another way is not pinned by an exit condition on a cgroup that vanished.
  Policy policy;
  Level level;
  level.name = "jellyfin-busy";
  level.hold = seconds(0);
  level.enter = {cond(Signal::FullAvg10, "container.slice/jellyfin.service", kAbove, 20),
                 cond(Signal::FullAvg10, "system", kAbove, 30)};
  level.exit = {cond(Signal::FullAvg10, "container.slice/jellyfin.service", kBelow, 5),
                cond(Signal::FullAvg10, "system", kBelow, 10)};
  policy.levels.push_back(level);
  world.snapshot.system_pressure = psi(60.0, 35.0);
  LadderState state = decide(policy, LadderState{}, world.view(), t0).next;
  ASSERT_EQ(state.level, 1u);
  std::erase_if(world.snapshot.cgroups, [](const CgroupSample& c) { return c.unit == "jellyfin.service"; });
  world.snapshot.system_pressure = psi(3.0, 1.0);
  Decision decision = decide(policy, state, world.view(), t0 + seconds(1));
  EXPECT_EQ(decision.next.level, 0u);
  EXPECT_EQ(decision.transitions.at(0).reason, "full_avg10 of system 1.00 < 10.00");
}

TEST(Ladder, SignalsAreMeasuredAsDocumented) {
  World world;
  std::string text;
  // oomd_limit_percent = full avg10 / limit * 100.
  world.set_full_avg10("session.slice", 20.0, std::nullopt);
  EXPECT_TRUE(evaluate(cond(Signal::OomdLimitPercent, "session.slice", kAbove, 24.9), world.view(), &text));
  EXPECT_EQ(text, "oomd_limit_percent of session.slice 25.00 > 24.90");
  EXPECT_FALSE(evaluate(cond(Signal::OomdLimitPercent, "session.slice", kAbove, 25.0), world.view(), &text));
  // Not watched by oomd: no limit to be a percent of.
  EXPECT_FALSE(evaluate(cond(Signal::OomdLimitPercent, "container.slice/jellyfin.service", kBelow, 1000),
                        world.view(), &text));

  // seconds_until_kill: nullopt (no kill on course) is +infinity; the lowest watched value decides.
  EXPECT_TRUE(evaluate(cond(Signal::SecondsUntilKill, "oomd-watched", kAbove, 300), world.view(), &text));
  EXPECT_EQ(text, "seconds_until_kill of app.slice inf > 300.00");
  world.set_full_avg10("user.slice", 81.0, 12.5);
  EXPECT_TRUE(evaluate(cond(Signal::SecondsUntilKill, "oomd-watched", kBelow, 30), world.view(), &text));
  EXPECT_EQ(text, "seconds_until_kill of user.slice 12.50 < 30.00");
  EXPECT_FALSE(evaluate(cond(Signal::SecondsUntilKill, "oomd-watched", kAbove, 300), world.view(), &text));
  // A cgroup oomd does not watch will not be killed for pressure: +infinity.
  EXPECT_TRUE(evaluate(cond(Signal::SecondsUntilKill, "container.slice/jellyfin.service", kAbove, 1e9),
                       world.view(), &text));

  // memory_high_percent: current / high; "max" counts as 0. The incident's container.slice
  // plan: MemoryHigh=8G, and 7.5 GiB in use.
  auto& containers = world.cgroup("container.slice");
  containers.memory.current_bytes = 7680ULL << 20;
  containers.memory.high_bytes = 8ULL << 30;
  EXPECT_TRUE(evaluate(cond(Signal::MemoryHighPercent, "container.slice", kAbove, 90), world.view(), &text));
  EXPECT_EQ(text, "memory_high_percent of container.slice 93.75 > 90.00");
  containers.memory.high_bytes.reset();
  EXPECT_FALSE(evaluate(cond(Signal::MemoryHighPercent, "container.slice", kAbove, 0), world.view(), &text));
  EXPECT_EQ(text, "memory_high_percent of container.slice 0.00, not > 0.00");

  // mem_available_percent: MemAvailable / MemTotal (12 of 30 GiB = 40%).
  EXPECT_TRUE(evaluate(cond(Signal::MemAvailablePercent, "system", kBelow, 40.01), world.view(), &text));
  EXPECT_EQ(text, "mem_available_percent of system 40.00 < 40.01");

  // trigger_fired: by cgroup path, "/" for the system trigger.
  EXPECT_FALSE(evaluate(cond(Signal::TriggerFired, "app.slice", kAbove, 0), world.view(), &text));
  world.snapshot.triggers_fired = {full_path("app.slice"), "/"};
  EXPECT_TRUE(evaluate(cond(Signal::TriggerFired, "app.slice", kAbove, 0), world.view(), &text));
  EXPECT_EQ(text, "trigger_fired of app.slice 1 > 0");
  EXPECT_TRUE(evaluate(cond(Signal::TriggerFired, "system", kAbove, 0), world.view(), &text));
  EXPECT_FALSE(evaluate(cond(Signal::TriggerFired, "session.slice", kAbove, 0), world.view(), &text));

  // PSI some/full avg10/avg60 of a cgroup and of the system.
  world.cgroup("app.slice").pressure = psi(31.5, 12.25, 20.0, 8.5);
  EXPECT_TRUE(evaluate(cond(Signal::SomeAvg10, "app.slice", kAbove, 31), world.view(), &text));
  EXPECT_TRUE(evaluate(cond(Signal::SomeAvg60, "app.slice", kAbove, 19.9), world.view(), &text));
  EXPECT_TRUE(evaluate(cond(Signal::FullAvg60, "app.slice", kBelow, 8.6), world.view(), &text));
  EXPECT_EQ(text, "full_avg60 of app.slice 8.50 < 8.60");
  EXPECT_TRUE(evaluate(cond(Signal::SomeAvg10, "system", kBelow, 0.6), world.view(), &text));
}

// The user's budget signals read the model's UserBudget, one value named "user". Plain values:
// 1.23 of 1.5 GiB in use (82%), 9.2 s until it runs out at 30 MiB/s.
TEST(Ladder, BudgetSignalsReadTheUsersBudget) {
  World world;
  UserBudget budget;
  budget.known = true;
  budget.used_bytes = 1260ULL << 20;
  budget.limit_bytes = 1536ULL << 20;
  budget.room_bytes = 276ULL << 20;
  budget.used_percent = 1260.0 / 1536.0 * 100.0;
  budget.slope_bytes_per_second = 30.0 * (1 << 20);
  budget.seconds_to_exhaustion = 9.2;
  ModelView view = world.view();
  view.budget = &budget;
  std::string text;
  EXPECT_TRUE(evaluate(cond(Signal::SecondsToBudgetExhausted, "user", kBelow, 30), view, &text));
  EXPECT_EQ(text, "seconds_to_budget_exhausted of user 9.20 < 30.00");
  EXPECT_FALSE(evaluate(cond(Signal::BudgetUsedPercent, "user", kAbove, 90), view, &text));
  EXPECT_EQ(text, "budget_used_percent of user 82.03, not > 90.00");

  // A level on the budget climbs, stays between its thresholds, and steps down when the user's
  // use stops growing (no run-out on course: +inf).
  Policy policy;
  Level level;
  level.name = "running-out";
  level.hold = seconds(0);
  level.enter = {cond(Signal::SecondsToBudgetExhausted, "user", kBelow, 30)};
  level.exit = {cond(Signal::SecondsToBudgetExhausted, "user", kAbove, 120)};
  policy.levels.push_back(level);
  Decision decision = decide(policy, {}, view, MonoTime{});
  ASSERT_EQ(decision.next.level, 1u);
  EXPECT_EQ(decision.transitions.at(0).reason, "seconds_to_budget_exhausted of user 9.20 < 30.00");
  budget.seconds_to_exhaustion = 60;
  decision = decide(policy, decision.next, view, MonoTime{} + seconds(1));
  EXPECT_EQ(decision.next.level, 1u);
  EXPECT_EQ(decision.explanation,
            "running-out: staying until seconds_to_budget_exhausted of user 60.00, not > 120.00");
  budget.slope_bytes_per_second.reset();
  budget.seconds_to_exhaustion = std::numeric_limits<double>::infinity();
  decision = decide(policy, decision.next, view, MonoTime{} + seconds(2));
  EXPECT_EQ(decision.next.level, 0u);
  EXPECT_EQ(decision.transitions.at(0).reason, "seconds_to_budget_exhausted of user inf > 120.00");

  // No budget yet (the user manager not read, or no view of it): no value, so the condition is
  // false, and as an exit condition it is skipped rather than pinning the level.
  budget.known = false;
  EXPECT_FALSE(evaluate(cond(Signal::BudgetUsedPercent, "user", kAbove, 0), view, &text));
  EXPECT_EQ(text, "budget_used_percent of user: no value (the user's memory budget is not known yet)");
  EXPECT_FALSE(evaluate(cond(Signal::SecondsToBudgetExhausted, "user", kAbove, 0), world.view(), &text));
  LadderState up;
  up.level = 1;
  up.entered_at = {MonoTime{}};
  decision = decide(policy, up, view, MonoTime{} + seconds(3));
  EXPECT_EQ(decision.next.level, 0u);
}

TEST(Ladder, GlobMatchesWithinOneComponent) {
  World world;
  std::string text;
  world.cgroup("container.slice/jellyfin.service").pressure = psi(44.0, 21.0);
  EXPECT_TRUE(
      evaluate(cond(Signal::FullAvg10, "container.slice/*.service", kAbove, 20), world.view(), &text));
  EXPECT_EQ(text, "full_avg10 of container.slice/jellyfin.service 21.00 > 20.00");
  EXPECT_TRUE(evaluate(cond(Signal::FullAvg10, "container.slice/jelly*", kAbove, 20), world.view(), &text));
  EXPECT_TRUE(evaluate(cond(Signal::FullAvg10, "*/jellyfin.service", kAbove, 20), world.view(), &text));
  // '*' does not cross '/': the payload cgroup two levels down is not "container.slice/*".
  world.cgroup("container.slice/immich-server.service/libpod-payload").pressure = psi(90.0, 80.0);
  EXPECT_TRUE(evaluate(cond(Signal::FullAvg10, "container.slice/*", kBelow, 22), world.view(), &text));
  EXPECT_TRUE(evaluate(cond(Signal::FullAvg10, "container.slice/*/*", kAbove, 79), world.view(), &text));
  EXPECT_EQ(text, "full_avg10 of container.slice/immich-server.service/libpod-payload 80.00 > 79.00");
  EXPECT_FALSE(evaluate(cond(Signal::FullAvg10, "container.slice/jelly", kAbove, 0), world.view(), &text));
}

TEST(Ladder, AtNormalTheExplanationShowsTheNearestCondition) {
  const Policy policy = three_level_policy();
  World world;
  world.set_full_avg10("app.slice", 8.0, std::nullopt);
  const Decision decision = decide(policy, LadderState{}, world.view(), t0);
  EXPECT_EQ(decision.next.level, 0u);
  EXPECT_TRUE(decision.commands.empty());
  EXPECT_TRUE(decision.transitions.empty());
  EXPECT_EQ(
      decision.explanation,
      "normal: no level's enter condition holds (elevated needs oomd_limit_percent of app.slice 10.00, not > "
      "50.00)");
  EXPECT_EQ(level_name(policy, 0), "normal");
  EXPECT_EQ(level_name(policy, 3), "critical");
}

}  // namespace
}  // namespace guardian
