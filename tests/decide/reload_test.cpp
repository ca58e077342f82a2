// decide/reload: what a SIGHUP keeps of the ladder in force. The incident policy's shape: two
// levels, a slice limit and a freeze at the upper one, a Jellyfin layer at the lower.
#include "decide/reload.h"

#include <gtest/gtest.h>

namespace guardian {
namespace {

ActionSpec action(const std::string& type, std::map<std::string, ParamValue> params, uint32_t line) {
  ActionSpec spec;
  spec.type = type;
  spec.pos = {"policy.toml", line, 3};
  for (auto& [name, value] : params) spec.params[name] = Param{std::move(value), {"policy.toml", line, 20}};
  return spec;
}

Policy incident_policy(uint32_t first_line = 10) {
  Policy policy;
  policy.container_slice.memory_high = SizeSpec{8ULL << 30, std::nullopt};
  policy.containers.low_priority_units = {"immich-ml.service"};
  policy.jellyfin.push_back(JellyfinInstanceSettings{});
  Level elevated;
  elevated.name = "elevated";
  elevated.actions = {action("log", {{"message", std::string("rising")}}, first_line),
                      action("jellyfin.cheaper-software", {}, first_line + 1)};
  Level critical;
  critical.name = "critical";
  critical.actions = {action("slice.set-memory-high", {{"value", std::string("6G")}}, first_line + 5),
                      action("unit.freeze", {{"unit", std::string("immich-ml.service")}}, first_line + 6)};
  policy.levels = {elevated, critical};
  return policy;
}

LadderState at(size_t level) {
  LadderState state;
  state.level = level;
  state.entered_at.assign(level, MonoTime{} + std::chrono::seconds(5));
  state.exit_true_since = MonoTime{} + std::chrono::seconds(7);
  return state;
}

TEST(ReloadPlan, TheSamePolicyKeepsEverythingEvenWhenItsLinesMoved) {
  const Policy old = incident_policy();
  const Policy next = incident_policy(40);  // the same file with a comment block added on top
  auto plan = plan_reload(old, at(2), next);
  EXPECT_TRUE(plan.reverts.empty());
  EXPECT_TRUE(plan.applies.empty());
  EXPECT_TRUE(plan.transitions.empty());
  EXPECT_EQ(plan.kept, 4u);
  EXPECT_EQ(plan.next.level, 2u);
  EXPECT_EQ(plan.next.entered_at, at(2).entered_at);  // its hold keeps counting from the climb
  EXPECT_EQ(plan.next.exit_true_since, at(2).exit_true_since);
}

TEST(ReloadPlan, AChangedArgumentRevertsAndReappliesOnlyThatAction) {
  const Policy old = incident_policy();
  Policy next = incident_policy();
  next.levels[1].actions[0].params["value"].value = std::string("5G");
  auto plan = plan_reload(old, at(2), next);
  ASSERT_EQ(plan.reverts.size(), 1u);
  EXPECT_EQ(plan.reverts[0].level, 2u);
  EXPECT_EQ(plan.reverts[0].action_index, 0u);
  ASSERT_EQ(plan.applies.size(), 1u);
  EXPECT_EQ(plan.applies[0].level, 2u);
  EXPECT_EQ(plan.applies[0].action_index, 0u);
  EXPECT_EQ(plan.kept, 3u);
  EXPECT_EQ(plan.next.level, 2u);
}

TEST(ReloadPlan, ASectionAnActionReadsCountsAsItsArguments) {
  const Policy old = incident_policy();
  Policy next = incident_policy();
  next.jellyfin[0].url = "http://127.0.0.1:8097";  // the cheaper-software layer talks elsewhere now
  auto plan = plan_reload(old, at(2), next);
  ASSERT_EQ(plan.reverts.size(), 1u);
  EXPECT_EQ(plan.reverts[0].level, 1u);
  EXPECT_EQ(plan.reverts[0].action_index, 1u);
  EXPECT_EQ(plan.kept, 3u);
  next = incident_policy();
  next.containers.low_priority_units.push_back("plex.service");
  plan = plan_reload(old, at(2), next);
  EXPECT_EQ(plan.reverts.size(), 2u);  // the slice limit and the freeze read [containers]
  EXPECT_EQ(plan.kept, 2u);
}

TEST(ReloadPlan, ALevelThatChangedPlaceStepsTheLadderDownBelowIt) {
  const Policy old = incident_policy();
  Policy next = incident_policy();
  next.levels[1].name = "severe";
  auto plan = plan_reload(old, at(2), next);
  ASSERT_EQ(plan.transitions.size(), 1u);
  EXPECT_EQ(plan.transitions[0].from, 2u);
  EXPECT_EQ(plan.transitions[0].to, 1u);
  EXPECT_EQ(plan.next.level, 1u);
  EXPECT_EQ(plan.next.entered_at.size(), 1u);
  EXPECT_FALSE(plan.next.exit_true_since);
  // Down from the top, as unwind() does.
  ASSERT_EQ(plan.reverts.size(), 2u);
  EXPECT_EQ(plan.reverts[0].action_index, 1u);
  EXPECT_EQ(plan.reverts[1].action_index, 0u);
  EXPECT_TRUE(plan.applies.empty());  // the next tick climbs the new level
  EXPECT_EQ(plan.kept, 2u);
}

TEST(ReloadPlan, ADroppedActionIsRevertedAndANewOneApplied) {
  const Policy old = incident_policy();
  Policy next = incident_policy();
  next.levels[0].actions.erase(next.levels[0].actions.begin());  // log dropped: cheaper-software moves to 0
  next.levels[0].actions.push_back(action("log", {{"message", std::string("rising")}}, 12));
  auto plan = plan_reload(old, at(1), next);
  EXPECT_EQ(plan.reverts.size(), 2u);  // both changed place
  EXPECT_EQ(plan.applies.size(), 2u);
  EXPECT_EQ(plan.kept, 0u);
  EXPECT_EQ(plan.next.level, 1u);
  // At normal nothing is in force: nothing to keep or revert.
  auto calm = plan_reload(old, at(0), next);
  EXPECT_TRUE(calm.reverts.empty());
  EXPECT_TRUE(calm.applies.empty());
}

}  // namespace
}  // namespace guardian
