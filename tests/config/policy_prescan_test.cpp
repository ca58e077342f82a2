// The shape scan before toml++ (config/policy_prescan): deep dotted keys and deep nesting are
// refused with their line and column; strings and comments do not count; real policies pass.
#include "config/policy_prescan.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "config/policy_loader.h"

namespace guardian {
namespace {

std::string dotted(size_t parts) {
  std::string key = "a";
  for (size_t i = 1; i < parts; ++i) key += ".a";
  return key;
}

TEST(PolicyPrescan, TheShippedPoliciesPass) {
  for (const char* name : {"default.toml", "incident-fedora-30g.toml"}) {
    std::ifstream in(std::string(GUARDIAN_SOURCE_DIR) + "/policies/" + name);
    std::stringstream text;
    text << in.rdbuf();
    ASSERT_FALSE(text.str().empty()) << name;
    EXPECT_FALSE(prescan_policy_shape(text.str()).has_value()) << name;
  }
}

TEST(PolicyPrescan, DottedKeysAreBoundedInHeadersAndKeysWithTheirPosition) {
  EXPECT_FALSE(prescan_policy_shape("[" + dotted(16) + "]\n" + dotted(16) + " = 1\n").has_value());
  auto header = prescan_policy_shape("version = 1\n[[" + dotted(17) + "]]\n");
  ASSERT_TRUE(header);
  EXPECT_EQ(header->line, 2u);
  EXPECT_EQ(header->column, 34u);  // the 16th dot
  EXPECT_EQ(header->message, "a key of more than 16 dotted parts (a.b.c…); a policy's keys have at most 2");
  auto key = prescan_policy_shape("x = { " + dotted(17) + " = 1 }\n");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->line, 1u);
}

TEST(PolicyPrescan, NestingIsBoundedAndValuesDotsAreNotKeys) {
  EXPECT_FALSE(prescan_policy_shape("x = " + std::string(16, '[') + std::string(16, ']') + "\n").has_value());
  auto deep = prescan_policy_shape("x = " + std::string(17, '[') + std::string(17, ']') + "\n");
  ASSERT_TRUE(deep);
  EXPECT_EQ(deep->column, 21u);
  std::string inline_tables = "x = ";
  for (int i = 0; i < 17; ++i) inline_tables += "{ a = ";
  inline_tables += "1";
  for (int i = 0; i < 17; ++i) inline_tables += " }";
  auto tables = prescan_policy_shape(inline_tables + "\n");
  ASSERT_TRUE(tables);
  EXPECT_EQ(tables->message, "arrays and inline tables nested more than 16 deep; a policy needs 3");
  // Floats, dates, dotted strings and comments: no key parts.
  std::string values = "x = [";
  for (int i = 0; i < 100; ++i) values += "1.5, ";
  values += "2.5]\ny = \"" + dotted(100) + "\" # " + dotted(100) + "\nz = '''\n" + dotted(100) +
            "\n[[[[[[[[[[[[[[[[[[[[\n'''\nw = 1979-05-27T07:32:00.999\n\"" + dotted(100) + "\" = 1\n";
  EXPECT_FALSE(prescan_policy_shape(values).has_value());
}

TEST(PolicyPrescan, TheLoaderSaysItWithFileAndLineBeforeToml) {
  std::string text = "version = 1\n[";
  for (int i = 0; i < 50'000; ++i) text += "a.";
  text += "a]\n";
  auto loaded = parse_policy(text, "deep.toml", nullptr);
  ASSERT_EQ(loaded.diagnostics.size(), 1u);
  EXPECT_EQ(loaded.diagnostics[0].to_string(),
            "deep.toml:2:33: a key of more than 16 dotted parts (a.b.c…); a policy's keys have at most 2");
}

TEST(PolicyLimits, FileSizeLevelsAndActionsAreCapped) {
  auto big = parse_policy(std::string(kMaxPolicyBytes + 1, '#'), "big.toml", nullptr);
  ASSERT_EQ(big.diagnostics.size(), 1u);
  EXPECT_EQ(big.diagnostics[0].to_string(),
            "big.toml: 262145 bytes, more than the 256.00 KiB a policy may have");
  std::string levels = "version = 1\n";
  for (size_t i = 0; i <= kMaxLevels; ++i) {
    levels += "[[level]]\nname = \"l" + std::to_string(i) +
              "\"\nenter = [ { signal = \"full_avg10\", cgroup = \"system\", above = 10 } ]\n";
  }
  auto many = parse_policy(levels, "many.toml", nullptr);
  ASSERT_FALSE(many.policy);
  ASSERT_EQ(many.diagnostics.size(), 1u);
  EXPECT_NE(many.diagnostics[0].to_string().find("more than 32 [[level]] tables"), std::string::npos)
      << many.diagnostics[0].to_string();
  std::string actions =
      "version = 1\n[[level]]\nname = \"busy\"\n"
      "enter = [ { signal = \"full_avg10\", cgroup = \"system\", above = 10 } ]\nactions = [";
  for (size_t i = 0; i <= kMaxActionsPerLevel; ++i) actions += "{ type = \"log\" }, ";
  actions += "]\n";
  auto busy = parse_policy(actions, "busy.toml", nullptr);
  ASSERT_FALSE(busy.policy);
  ASSERT_EQ(busy.diagnostics.size(), 1u);
  EXPECT_NE(busy.diagnostics[0].to_string().find("has 33 actions, more than the 32 guardian takes"),
            std::string::npos)
      << busy.diagnostics[0].to_string();
}

}  // namespace
}  // namespace guardian
