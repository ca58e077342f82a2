// units/guardian.service as systemd reads it: `systemd-analyze verify` in the user manager's
// mode (and the system's, which checks the same keys) must accept it with ExecStart= pointing
// at the built binary — an unknown or misspelt key, or one the user manager rejects, fails it —
// and its sandbox keeps `systemd-analyze security` at the score the README gives.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/child_process.h"
#include "support/scratch_dir.h"

namespace guardian {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string find_program(const std::string& name) {
  for (const char* dir : {"/usr/bin", "/bin", "/usr/local/bin"}) {
    const std::string path = std::string(dir) + "/" + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return {};
}

class GuardianUnitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string unit = read_text(std::string(GUARDIAN_SOURCE_DIR) + "/units/guardian.service");
    ASSERT_FALSE(unit.empty());
    // What units/install.cmake does at install time: the binary this build made.
    const std::string shipped = "ExecStart=/usr/local/bin/guardian run";
    const auto at = unit.find(shipped);
    ASSERT_NE(at, std::string::npos) << "units/install.cmake rewrites exactly this line";
    unit.replace(at, shipped.size(), std::string("ExecStart=") + GUARDIAN_BINARY + " run");
    unit_path = dir.write("guardian.service", unit);
  }
  test::ScratchDir dir{"unit"};
  std::string unit_path;
};

TEST_F(GuardianUnitTest, SystemdAnalyzeVerifiesItAsAUserUnit) {
  const std::string analyze = find_program("systemd-analyze");
  if (analyze.empty()) GTEST_SKIP() << "systemd-analyze not installed";
  // --user needs a runtime directory; a private one keeps the tester's own out of it.
  const std::string runtime = dir / "runtime";
  ASSERT_EQ(::mkdir(runtime.c_str(), 0700), 0);
  auto user = testing::run_child({analyze, "--user", "verify", unit_path}, {{"XDG_RUNTIME_DIR", runtime}});
  EXPECT_EQ(user.exit_code, 0) << user.err;
  EXPECT_EQ(user.err, "") << "systemd-analyze --user verify complained";
  auto system = testing::run_child({analyze, "verify", unit_path});
  EXPECT_EQ(system.exit_code, 0) << system.err;
  EXPECT_EQ(system.err, "");
}

TEST_F(GuardianUnitTest, BrokenKeyIsCaughtByTheSameCheck) {
  // The check above can fail: the same unit with a misspelt key does not pass clean.
  const std::string analyze = find_program("systemd-analyze");
  if (analyze.empty()) GTEST_SKIP() << "systemd-analyze not installed";
  std::ofstream(unit_path, std::ios::app) << "\n[Service]\nWatchdogSecs=30s\n";
  auto result = testing::run_child({analyze, "verify", unit_path});
  EXPECT_NE(result.err.find("Unknown key 'WatchdogSecs' in section [Service]"), std::string::npos)
      << result.err;
}

// The sandbox (issue 16 item 15): `systemd-analyze security --offline=true` rates the unit as
// systemd 252 does. 9.4 UNSAFE with NoNewPrivileges= alone; 5.0 MEDIUM with the sandbox (README
// "Running it as a user service"). A setting dropped from it raises the score above the bar.
constexpr double kExposureBar = 5.0;

// "→ Overall exposure level for guardian.service: 5.0 MEDIUM 😐" -> 5.0; -1 when absent.
double overall_exposure(const std::string& out) {
  const std::string marker = "Overall exposure level for guardian.service: ";
  const auto at = out.find(marker);
  if (at == std::string::npos) return -1;
  return std::strtod(out.c_str() + at + marker.size(), nullptr);
}

TEST_F(GuardianUnitTest, SecurityExposureStaysAtOrBelowTheSandboxesScore) {
  const std::string analyze = find_program("systemd-analyze");
  if (analyze.empty()) GTEST_SKIP() << "systemd-analyze not installed";
  auto result = testing::run_child({analyze, "security", "--offline=true", "--no-pager", unit_path});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const double exposure = overall_exposure(result.out);
  ASSERT_GE(exposure, 0) << result.out;
  EXPECT_LE(exposure, kExposureBar) << result.out;
}

TEST_F(GuardianUnitTest, WithoutTheSandboxTheScoreIsAboveTheBar) {
  // The check above can fail: the unit with its sandbox block cut out scores as it did before.
  const std::string analyze = find_program("systemd-analyze");
  if (analyze.empty()) GTEST_SKIP() << "systemd-analyze not installed";
  std::string unit = read_text(unit_path);
  const auto from = unit.find("# ---- Sandbox");
  const auto to = unit.find("TimeoutStartSec=");
  ASSERT_NE(from, std::string::npos);
  ASSERT_NE(to, std::string::npos);
  unit.erase(from, to - from);
  std::ofstream(unit_path, std::ios::trunc) << unit;
  auto result = testing::run_child({analyze, "security", "--offline=true", "--no-pager", unit_path});
  const double exposure = overall_exposure(result.out);
  EXPECT_GT(exposure, 9.0) << result.out;
}

}  // namespace
}  // namespace guardian
