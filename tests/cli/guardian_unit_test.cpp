// units/guardian.service as systemd reads it: `systemd-analyze verify` in the user manager's
// mode (and the system's, which checks the same keys) must accept it with ExecStart= pointing
// at the built binary — an unknown or misspelt key, or one the user manager rejects, fails it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/child_process.h"

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
    char dir_template[] = "/tmp/guardian-unit-XXXXXX";
    ASSERT_NE(::mkdtemp(dir_template), nullptr);
    dir = dir_template;
    std::string unit = read_text(std::string(GUARDIAN_SOURCE_DIR) + "/units/guardian.service");
    ASSERT_FALSE(unit.empty());
    // What units/install.cmake does at install time: the binary this build made.
    const std::string shipped = "ExecStart=/usr/local/bin/guardian run";
    const auto at = unit.find(shipped);
    ASSERT_NE(at, std::string::npos) << "units/install.cmake rewrites exactly this line";
    unit.replace(at, shipped.size(), std::string("ExecStart=") + GUARDIAN_BINARY + " run");
    unit_path = dir + "/guardian.service";
    std::ofstream(unit_path) << unit;
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  std::string dir;
  std::string unit_path;
};

TEST_F(GuardianUnitTest, SystemdAnalyzeVerifiesItAsAUserUnit) {
  const std::string analyze = find_program("systemd-analyze");
  if (analyze.empty()) GTEST_SKIP() << "systemd-analyze not installed";
  // --user needs a runtime directory; a private one keeps the tester's own out of it.
  const std::string runtime = dir + "/runtime";
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
  EXPECT_NE(result.err.find("Unknown key 'WatchdogSecs' in section [Service]"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace guardian
