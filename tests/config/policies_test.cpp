// The shipped policies: every file in policies/ and the embedded default load with the actions this
// build registers; the richer ladder kept on "#[issue N] " lines is valid apart from action types
// that later issues add.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>

#include "act/action.h"
#include "common/host_root.h"
#include "config/policy_loader.h"

namespace guardian {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> policy_files() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(fs::path(GUARDIAN_SOURCE_DIR) / "policies")) {
    if (entry.path().extension() == ".toml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string joined(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) out += d.to_string() + "\n";
  return out;
}

TEST(Policies, EveryShippedPolicyLoads) {
  const auto files = policy_files();
  ASSERT_GE(files.size(), 2u) << "policies/ should hold default.toml and the incident example";
  for (const auto& file : files) {
    auto result = load_policy_file(file.string(), &builtin_actions());
    EXPECT_TRUE(result.policy) << joined(result.diagnostics);
    if (result.policy) {
      EXPECT_FALSE(result.policy->levels.empty()) << file;
    }
  }
}

TEST(Policies, EmbeddedDefaultIsPoliciesDefaultToml) {
  auto text = read_file((fs::path(GUARDIAN_SOURCE_DIR) / "policies" / "default.toml").string());
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(embedded_default_policy(), *text);
  auto result = parse_policy(embedded_default_policy(), "<embedded default>", &builtin_actions());
  EXPECT_TRUE(result.policy) << joined(result.diagnostics);
}

TEST(Policies, IncidentPolicyMatchesTheIncidentMachine) {
  auto result = load_policy_file(
      (fs::path(GUARDIAN_SOURCE_DIR) / "policies" / "incident-fedora-30g.toml").string(), &builtin_actions());
  ASSERT_TRUE(result.policy) << joined(result.diagnostics);
  const Policy& policy = *result.policy;
  EXPECT_EQ(policy.name, "incident-fedora-30g");
  std::vector<std::string> names;
  for (const auto& level : policy.levels) names.push_back(level.name);
  EXPECT_EQ(names, (std::vector<std::string>{"watch", "ease", "protect", "last-resort"}));
  // Nothing in the ladder may touch Jellyfin's own unit except the Jellyfin-aware actions.
  for (const auto& level : policy.levels) {
    for (const auto& action : level.actions) {
      for (const auto& [name, param] : action.params) {
        if (const auto* units = std::get_if<std::vector<std::string>>(&param.value)) {
          EXPECT_EQ(std::count(units->begin(), units->end(), "jellyfin.service"), 0) << level.name;
        }
      }
    }
  }
}

// Lines written "#[issue N] <toml>" are the ladder that later issues enable. With the marker removed
// they must parse, and the only complaint allowed is an action type this build does not register —
// when issue N lands with different arguments, this test points at the line to update.
TEST(Policies, MarkedLinesAreValidExceptForActionTypesStillToCome) {
  const std::regex marker(R"(^#\[issue ([0-9]+)\] )");
  for (const auto& file : policy_files()) {
    std::ifstream in(file);
    std::string line, enabled;
    std::set<uint32_t> marked_lines;
    uint32_t number = 0;
    while (std::getline(in, line)) {
      ++number;
      std::smatch match;
      if (std::regex_search(line, match, marker)) {
        marked_lines.insert(number);
        line = match.suffix();
      }
      enabled += line + "\n";
    }
    if (marked_lines.empty()) continue;
    auto result = parse_policy(enabled, file.string(), &builtin_actions());
    std::set<std::string> unknown_types;
    for (const auto& d : result.diagnostics) {
      EXPECT_TRUE(marked_lines.count(d.pos.line)) << "not on a marked line: " << d.to_string();
      const std::regex unknown(R"re(^unknown action type "([^"]+)")re");
      std::smatch match;
      if (std::regex_search(d.message, match, unknown)) {
        unknown_types.insert(match[1]);
      } else {
        ADD_FAILURE()
            << d.to_string()
            << "\n(the action type is registered now: fix its arguments and drop the #[issue N] marker)";
      }
    }
    std::cout << file.filename().string() << ": action types still to come:";
    for (const auto& type : unknown_types) std::cout << " " << type;
    std::cout << "\n";
  }
}

}  // namespace
}  // namespace guardian
