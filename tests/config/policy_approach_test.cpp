// [approach]'s max_rebound_hold (config/policy_approach.cpp): the bound of the rebound rule
// (decide/ladder.cpp), parsed, bounded, and its errors naming the place.
#include <gtest/gtest.h>

#include "config/policy_loader.h"
#include "support/policy_texts.h"

namespace guardian {
namespace {

PolicyLoadResult parse_with(const std::string& section) {
  return parse_policy(test::policy_with_approach(section), "p.toml", nullptr);
}

TEST(PolicyApproach, MaxReboundHoldIsADurationUpToADayAndZeroTurnsTheRuleOff) {
  auto ok = parse_with("max_rebound_hold = \"3min\"\n");
  ASSERT_TRUE(ok.policy.has_value()) << (ok.diagnostics.empty() ? "" : ok.diagnostics[0].to_string());
  EXPECT_EQ(ok.policy->approach.max_rebound_hold, std::chrono::minutes(3));
  ok = parse_with("max_rebound_hold = \"0s\"\n");
  ASSERT_TRUE(ok.policy.has_value());
  EXPECT_EQ(ok.policy->approach.max_rebound_hold.count(), 0);
  ok = parse_with("max_rebound_hold = 90\n");  // a number of seconds, as every duration
  ASSERT_TRUE(ok.policy.has_value());
  EXPECT_EQ(ok.policy->approach.max_rebound_hold, std::chrono::seconds(90));
  ok = parse_with("max_rebound_hold = \"24h\"\n");
  ASSERT_TRUE(ok.policy.has_value());
  // Not given: ten minutes (policy.h says why).
  ok = parse_with("used_percent = 80\n");
  ASSERT_TRUE(ok.policy.has_value());
  EXPECT_EQ(ok.policy->approach.max_rebound_hold, std::chrono::minutes(10));
}

TEST(PolicyApproach, ABadMaxReboundHoldNamesItsPlace) {
  auto bad = parse_with("max_rebound_hold = \"25h\"\n");
  ASSERT_FALSE(bad.policy.has_value());
  ASSERT_FALSE(bad.diagnostics.empty());
  EXPECT_NE(bad.diagnostics[0].to_string().find(
                "p.toml:10:20: \"max_rebound_hold\": expected a time between 0s (off) and 24h"),
            std::string::npos)
      << bad.diagnostics[0].to_string();
  bad = parse_with("max_rebound_hold = \"ten minutes\"\n");
  ASSERT_FALSE(bad.policy.has_value());
  EXPECT_NE(bad.diagnostics[0].to_string().find("p.toml:10:20: \"max_rebound_hold\": invalid duration"),
            std::string::npos)
      << bad.diagnostics[0].to_string();
  bad = parse_with("max_rebound_hold = -5\n");
  ASSERT_FALSE(bad.policy.has_value());
  bad = parse_with("max_rebound = \"10m\"\n");  // a misspelt key is refused, with the right one named
  ASSERT_FALSE(bad.policy.has_value());
  EXPECT_NE(bad.diagnostics[0].message.find("max_rebound_hold"), std::string::npos)
      << bad.diagnostics[0].to_string();
}

TEST(PolicyApproach, TheDefaultPolicyBoundsTheRuleAtTenMinutes) {
  const auto loaded = load_policy_or_default(std::nullopt, nullptr);
  ASSERT_TRUE(loaded.policy.has_value());
  EXPECT_EQ(loaded.policy->approach.max_rebound_hold, std::chrono::minutes(10));
}

}  // namespace
}  // namespace guardian
