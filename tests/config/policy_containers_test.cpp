// [container_slice] and [containers] through the policy loader, with the registry's validation.
#include <gtest/gtest.h>

#include "act/action.h"
#include "config/policy_loader.h"

namespace guardian {
namespace {

// The incident machine (seed 002): containers at 8G high / 10G max on 30 GB; Jellyfin protected,
// immich-ml the one to freeze.
constexpr const char* kPolicy = R"(version = 1

[container_slice]
memory_high = "8G"
memory_max = "10G"
floor = "4G"
ceiling = "10G"

[containers]
protected = ["jellyfin.service"]
low_priority = ["immich-ml.service"]

[[level]]
name = "critical"
enter = [{ signal = "seconds_until_kill", cgroup = "oomd-watched", below = 30 }]
actions = [
  { type = "unit.freeze", unit = "immich-ml.service" },
  { type = "slice.set-memory-high", value = "-10%" },
]
)";

TEST(PolicyContainers, ParsesTheSectionsAndAllowsFreezingLowPriority) {
  auto result = parse_policy(kPolicy, "incident.toml", &builtin_actions());
  ASSERT_TRUE(result.policy.has_value())
      << (result.diagnostics.empty() ? "" : result.diagnostics[0].to_string());
  const auto& slice = result.policy->container_slice;
  EXPECT_EQ(slice.unit, "container.slice");
  EXPECT_EQ(slice.memory_high->bytes, 8ULL << 30);
  EXPECT_EQ(slice.memory_max->bytes, 10ULL << 30);
  EXPECT_EQ(slice.floor->bytes, 4ULL << 30);
  EXPECT_EQ(result.policy->containers.protected_units, std::vector<std::string>{"jellyfin.service"});
}

TEST(PolicyContainers, RefusesFreezingProtectedOrUnlistedUnitsAtTheArgument) {
  std::string text = kPolicy;
  text.replace(text.find("unit = \"immich-ml.service\""), 26, "unit = \"jellyfin.service\"");
  auto result = parse_policy(text, "incident.toml", &builtin_actions());
  ASSERT_FALSE(result.policy.has_value());
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_EQ(result.diagnostics[0].pos.line, 17u);
  EXPECT_NE(result.diagnostics[0].message.find("\"jellyfin.service\" is protected"), std::string::npos)
      << result.diagnostics[0].to_string();

  text = kPolicy;
  text.replace(text.find("unit = \"immich-ml.service\""), 26, "unit = \"loki.service\"");
  result = parse_policy(text, "incident.toml", &builtin_actions());
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_NE(result.diagnostics[0].message.find("not in [containers] low_priority"), std::string::npos);
}

TEST(PolicyContainers, BadValuesNameTheKey) {
  auto result = parse_policy(
      "version = 1\n[container_slice]\nmemory_high = \"12G\"\nmemory_max = \"10G\"\nunit = "
      "\"containers\"\nmemroy_low = 1\n"
      "[containers]\nprotected = [\"jellyfin\"]\nlow_priority = [\"a.service\"]\n",
      "bad.toml", &builtin_actions());
  ASSERT_FALSE(result.policy.has_value());
  std::vector<std::string> messages;
  for (const auto& diagnostic : result.diagnostics) messages.push_back(diagnostic.to_string());
  auto has = [&](const std::string& text) {
    return std::any_of(messages.begin(), messages.end(),
                       [&](const std::string& m) { return m.find(text) != std::string::npos; });
  };
  EXPECT_TRUE(has("bad.toml:4:")) << ::testing::PrintToString(messages);  // memory_max below memory_high
  EXPECT_TRUE(has("expected a slice unit")) << ::testing::PrintToString(messages);
  EXPECT_TRUE(has("memroy_low")) << ::testing::PrintToString(messages);
  EXPECT_TRUE(has("\"jellyfin\" is not a unit name")) << ::testing::PrintToString(messages);
}

}  // namespace
}  // namespace guardian
