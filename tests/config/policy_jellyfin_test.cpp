// [[jellyfin]] sections through the policy loader: values, defaults and FILE:LINE:COL errors.
#include <gtest/gtest.h>

#include "act/action.h"
#include "config/policy_loader.h"

namespace guardian {
namespace {

std::string errors(const PolicyLoadResult& result) {
  std::string out;
  for (const auto& d : result.diagnostics) out += d.to_string() + "\n";
  return out;
}

TEST(PolicyJellyfin, ParsesInstancesWithDefaults) {
  auto result = parse_policy(R"(version = 1
[[jellyfin]]
name = "home"
url = "http://127.0.0.1:8096"
api_key_file = "/home/alice/.config/guardian/jellyfin.key"
cgroup = "user.slice/libpod-jellyfin.scope"
timeout = "1500ms"
action_timeout = "8s"
user_priority = { kids = 10, alice = 100 }

[[jellyfin]]
name = "nas"
url = "https://nas.lan/jellyfin"
credential = "nas-jellyfin-key"
)",
                             "p.toml", &builtin_actions());
  ASSERT_TRUE(result.policy) << errors(result);
  ASSERT_EQ(result.policy->jellyfin.size(), 2u);
  const auto& home = result.policy->jellyfin[0];
  EXPECT_EQ(home.name, "home");
  EXPECT_EQ(home.timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(home.action_timeout, std::chrono::milliseconds(8000));
  EXPECT_EQ(result.policy->jellyfin[1].action_timeout, std::chrono::milliseconds(6000));
  EXPECT_EQ(home.poll_interval, std::chrono::milliseconds(5000));
  EXPECT_EQ(home.user_priority.at("kids"), 10);
  EXPECT_EQ(home.cgroup, "user.slice/libpod-jellyfin.scope");
  EXPECT_EQ(result.policy->jellyfin[1].credential, "nas-jellyfin-key");
}

TEST(PolicyJellyfin, ErrorsNameThePlace) {
  auto result = parse_policy(R"(version = 1
[[jellyfin]]
name = "home"
url = "ftp://127.0.0.1"
api_key_file = "relative.key"
timout = "2s"
action_timeout = "45s"

[[jellyfin]]
name = "home"
)",
                             "p.toml", &builtin_actions());
  ASSERT_FALSE(result.policy);
  std::string text = errors(result);
  EXPECT_NE(text.find("p.toml:4:7: \"url\": URL \"ftp://127.0.0.1\" must start with http:// or https://"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("p.toml:5:16: \"api_key_file\": expected an absolute path or ~/"), std::string::npos)
      << text;
  EXPECT_NE(text.find("did you mean \"timeout\"?"), std::string::npos) << text;
  EXPECT_NE(text.find("p.toml:7:18: \"action_timeout\": expected 100ms..30s"), std::string::npos) << text;
  EXPECT_NE(text.find("a [[jellyfin]] named \"home\" is already defined at line 2"), std::string::npos)
      << text;
  EXPECT_NE(text.find("needs api_key_file"), std::string::npos) << text;
}

TEST(PolicyJellyfin, DefaultPolicyWithJellyfinActionsLoads) {
  auto result = parse_policy(embedded_default_policy(), "<embedded default>", &builtin_actions());
  ASSERT_TRUE(result.policy) << errors(result);
  bool found = false;
  for (const auto& level : result.policy->levels) {
    for (const auto& action : level.actions) found = found || action.type == "jellyfin.cheaper-software";
  }
  EXPECT_TRUE(found);
}

// Issue 12: the default ladder's Jellyfin actions, pinned. cap-bitrate moved to elevated (in the
// VM's whole-user squeeze only an early cap avoided oomd's kill: docs/jellyfin.md, sqj-s21-g2/g4)
// and stays at critical for sessions that start transcoding after elevated; [approach] holds a
// full budget only while the user's file refaults show its working set no longer fits.
TEST(PolicyJellyfin, DefaultLadderCapsBitrateAtElevatedAndHoldsAFullRefaultingBudget) {
  auto result = parse_policy(embedded_default_policy(), "<embedded default>", &builtin_actions());
  ASSERT_TRUE(result.policy) << errors(result);
  const Policy& policy = *result.policy;
  auto jellyfin_actions = [&](const std::string& level_name) {
    std::vector<std::string> out;
    for (const auto& level : policy.levels) {
      if (level.name != level_name) continue;
      for (const auto& action : level.actions) {
        if (!action.type.starts_with("jellyfin.")) continue;
        out.push_back(action.type);
        if (action.type == "jellyfin.cap-bitrate") {
          EXPECT_EQ(std::get<int64_t>(action.params.at("bitrate").value), 3000000) << level_name;
          EXPECT_FALSE(action.params.contains("restore_bitrate"))
              << level_name << ": each session's own bitrate is put back, not one fixed value";
        }
      }
    }
    return out;
  };
  EXPECT_EQ(jellyfin_actions("elevated"),
            (std::vector<std::string>{"jellyfin.prefer-vaapi", "jellyfin.cheaper-software",
                                      "jellyfin.pause-background-tasks", "jellyfin.cap-bitrate"}));
  EXPECT_EQ(jellyfin_actions("critical"),
            (std::vector<std::string>{"jellyfin.cap-bitrate", "jellyfin.stop-lowest-priority",
                                      "jellyfin.respawn-software-transcodes"}));
  // What frees memory goes before the desktop notice, which can wait 10 s on a throttled session bus.
  for (const auto& level : policy.levels) {
    if (level.name != "critical") continue;
    ASSERT_FALSE(level.actions.empty());
    EXPECT_EQ(level.actions.back().type, "notify");
  }
  EXPECT_DOUBLE_EQ(policy.approach.full_percent, 98);
  EXPECT_DOUBLE_EQ(policy.approach.refault_pages_per_second, 256);
  EXPECT_DOUBLE_EQ(policy.approach.hold_refault_pages_per_second, 64);
}

// Issue 11, defect 8: check-policy accepted an action instance that names no [[jellyfin]].
TEST(PolicyJellyfin, AnActionMustNameAJellyfinThePolicyHas) {
  auto result = parse_policy(R"(version = 1
[[level]]
name = "elevated"
enter = [ { signal = "full_avg10", cgroup = "system", above = 10 } ]
actions = [ { type = "jellyfin.cheaper-software", instance = "hmoe" },
            { type = "jellyfin.prefer-vaapi" } ]

[[jellyfin]]
name = "home"
url = "http://127.0.0.1:8096"
api_key_file = "/home/alice/.config/guardian/jellyfin.key"

[[jellyfin]]
name = "nas"
url = "http://127.0.0.1:8097"
api_key_file = "/home/alice/.config/guardian/nas.key"
)",
                             "p.toml", &builtin_actions());
  ASSERT_FALSE(result.policy);
  std::string text = errors(result);
  EXPECT_NE(text.find("p.toml:5:"), std::string::npos) << text;
  EXPECT_NE(text.find("jellyfin.cheaper-software: instance = \"hmoe\" names no [[jellyfin]] (the policy has "
                      "\"home\", \"nas\")"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find("jellyfin.prefer-vaapi: the policy has several [[jellyfin]] (\"home\", \"nas\"): say which "
                "with instance"),
      std::string::npos)
      << text;
}

TEST(PolicyJellyfin, AnInstanceWithoutAnyJellyfinIsAnErrorButNoInstanceIsNot) {
  auto named = parse_policy(R"(version = 1
[[level]]
name = "elevated"
enter = [ { signal = "full_avg10", cgroup = "system", above = 10 } ]
actions = [ { type = "jellyfin.cheaper-software", instance = "home" } ]
)",
                            "p.toml", &builtin_actions());
  ASSERT_FALSE(named.policy);
  EXPECT_NE(errors(named).find("names no [[jellyfin]] (the policy has none)"), std::string::npos)
      << errors(named);
  // The embedded default's way: no instance, no [[jellyfin]] — the actions do nothing.
  auto unnamed = parse_policy(R"(version = 1
[[level]]
name = "elevated"
enter = [ { signal = "full_avg10", cgroup = "system", above = 10 } ]
actions = [ { type = "jellyfin.cheaper-software" } ]
)",
                              "p.toml", &builtin_actions());
  EXPECT_TRUE(unnamed.policy) << errors(unnamed);
}

TEST(PolicyJellyfin, TheSameStatefulActionTwiceInALevelIsRefused) {
  auto result = parse_policy(R"(version = 1
[[level]]
name = "critical"
enter = [ { signal = "full_avg10", cgroup = "system", above = 10 } ]
actions = [ { type = "jellyfin.cheaper-software" }, { type = "jellyfin.cheaper-software", preset = "ultrafast" } ]

[[jellyfin]]
name = "home"
url = "http://127.0.0.1:8096"
api_key_file = "/home/alice/.config/guardian/jellyfin.key"
)",
                             "p.toml", &builtin_actions());
  ASSERT_FALSE(result.policy);
  EXPECT_NE(errors(result).find("jellyfin.cheaper-software appears twice in level \"critical\""),
            std::string::npos)
      << errors(result);
}

}  // namespace
}  // namespace guardian
