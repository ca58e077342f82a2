// Which cgroup each action of a level holds memory down in, as the action registry names it for
// [approach]'s rebound rule (model/action_relief.h): the default ladder with one [[jellyfin]]
// table in container.slice (the VM test bed's layout, tests/vm), and the systemd actions.
#include <gtest/gtest.h>

#include "act/action.h"
#include "config/policy_loader.h"

namespace guardian {
namespace {

ReliefTarget path(const std::string& relative) { return {ReliefTarget::By::Path, relative}; }
ReliefTarget unit(const std::string& name) { return {ReliefTarget::By::Unit, name}; }

Policy with_default_ladder(const std::string& extra) {
  // The embedded text plus the tables a user adds (policies/default.toml's commented example).
  auto loaded = parse_policy(std::string(embedded_default_policy()) + extra, "p.toml", &builtin_actions());
  EXPECT_TRUE(loaded.policy.has_value())
      << (loaded.diagnostics.empty() ? "" : loaded.diagnostics[0].to_string());
  return loaded.policy.value_or(Policy{});
}

TEST(ReliefTargets, TheDefaultLadderHoldsJellyfinsCgroupAndContainerSliceDown) {
  const Policy policy = with_default_ladder(R"(
[[jellyfin]]
name = "home"
url = "http://127.0.0.1:8096"
api_key_file = "/dev/null"
cgroup = "container.slice/jellyfin.service"
)");
  const auto targets = level_relief_targets(builtin_actions(), policy);
  ASSERT_EQ(targets.size(), 2u);
  const ReliefTarget jellyfin = path("container.slice/jellyfin.service");
  // elevated: prefer-vaapi, cheaper-software, pause-background-tasks, cap-bitrate (their reverts
  // bring the memory back), and slice.balance's container.slice; log frees nothing.
  EXPECT_EQ(targets[0],
            (std::vector<ReliefTarget>{jellyfin, jellyfin, jellyfin, jellyfin, unit("container.slice")}));
  // critical: cap-bitrate only; a respawned job keeps the settings in force (cheaper-software
  // reverts those) and a stopped stream stays stopped; notify frees nothing.
  EXPECT_EQ(targets[1], (std::vector<ReliefTarget>{jellyfin}));
}

TEST(ReliefTargets, WithoutAJellyfinCgroupOnlyTheSliceIsMeasured) {
  const auto targets = level_relief_targets(builtin_actions(), with_default_ladder(""));
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0], (std::vector<ReliefTarget>{unit("container.slice")}));
  EXPECT_TRUE(targets[1].empty());
}

TEST(ReliefTargets, AFrozenUnitAndASliceWhoseLimitIsSetButNotAThawedOne) {
  auto loaded = parse_policy(R"(version = 1
[containers]
low_priority = ["immich-ml.service"]
[[level]]
name = "squeeze"
enter = [ { signal = "full_avg10", cgroup = "system", above = 20 } ]
actions = [ { type = "unit.freeze", unit = "immich-ml.service" },
            { type = "slice.set-memory-max", unit = "background.slice", value = "2G" },
            { type = "unit.thaw", unit = "immich-ml.service" },
            { type = "notify", summary = "squeezed" } ]
)",
                             "p.toml", &builtin_actions());
  ASSERT_TRUE(loaded.policy.has_value()) << loaded.diagnostics[0].to_string();
  const auto targets = level_relief_targets(builtin_actions(), *loaded.policy);
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0], (std::vector<ReliefTarget>{unit("immich-ml.service"), unit("background.slice")}));
}

}  // namespace
}  // namespace guardian
