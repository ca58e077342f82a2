// Where `guardian run` looks for the policy without --policy: the XDG Base Directory rules for
// the variables, and the order of the places over fixture host roots.
#include "config/policy_location.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace guardian {
namespace {

namespace fs = std::filesystem;

TEST(ConfigDirs, FollowTheXdgBaseDirectoryRules) {
  // Set: taken as they are (trailing slashes dropped).
  auto dirs = ConfigDirs::from("/home/alice/cfg/", "/home/alice", "/etc/site-xdg:/etc/xdg/");
  EXPECT_EQ(dirs.config_home, "/home/alice/cfg");
  EXPECT_EQ(dirs.config_dirs, (std::vector<std::string>{"/etc/site-xdg", "/etc/xdg"}));
  // Unset or empty: $HOME/.config and /etc/xdg.
  dirs = ConfigDirs::from(nullptr, "/home/alice", nullptr);
  EXPECT_EQ(dirs.config_home, "/home/alice/.config");
  EXPECT_EQ(dirs.config_dirs, std::vector<std::string>{"/etc/xdg"});
  dirs = ConfigDirs::from("", "/home/alice", "");
  EXPECT_EQ(dirs.config_home, "/home/alice/.config");
  EXPECT_EQ(dirs.config_dirs, std::vector<std::string>{"/etc/xdg"});
  // Relative paths are invalid per the spec and ignored; a list of only those is as good as empty.
  dirs = ConfigDirs::from("cfg", "/home/alice", "relative::/opt/xdg");
  EXPECT_EQ(dirs.config_home, "/home/alice/.config");
  EXPECT_EQ(dirs.config_dirs, std::vector<std::string>{"/opt/xdg"});
  dirs = ConfigDirs::from(nullptr, nullptr, "relative");
  EXPECT_EQ(dirs.config_home, "");
  EXPECT_EQ(dirs.config_dirs, std::vector<std::string>{"/etc/xdg"});
  EXPECT_FALSE(user_policy_path(dirs).ok());
  EXPECT_EQ(*user_policy_path(ConfigDirs::from(nullptr, "/home/alice", nullptr)),
            "/home/alice/.config/guardian/policy.toml");
}

class PolicyLocation : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("guardian-policy-location-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "home/alice");
  }
  void TearDown() override { fs::remove_all(root_); }
  void put(const std::string& host_path) {
    fs::create_directories((root_ / host_path.substr(1)).parent_path());
    std::ofstream(root_ / host_path.substr(1)) << "version = 1\n";
  }
  fs::path root_;
  // Alice's session: HOME only, as a user manager started by logind has it.
  ConfigDirs dirs_ = ConfigDirs::from(nullptr, "/home/alice", "/etc/site-xdg:/etc/xdg");
};

TEST_F(PolicyLocation, TheUsersFileThenEachSystemDirectoryThenTheEmbeddedDefault) {
  const HostRoot host(root_.string());
  auto where = locate_policy(host, dirs_);
  EXPECT_EQ(where.origin, PolicyOrigin::Embedded);
  EXPECT_EQ(where.open_path, "");

  put("/etc/xdg/guardian/policy.toml");
  where = locate_policy(host, dirs_);
  EXPECT_EQ(where.origin, PolicyOrigin::System);
  EXPECT_EQ(where.host_path, "/etc/xdg/guardian/policy.toml");
  EXPECT_EQ(where.open_path, (root_ / "etc/xdg/guardian/policy.toml").string());

  put("/etc/site-xdg/guardian/policy.toml");  // earlier in XDG_CONFIG_DIRS: preferred
  EXPECT_EQ(locate_policy(host, dirs_).host_path, "/etc/site-xdg/guardian/policy.toml");

  put("/home/alice/.config/guardian/policy.toml");
  where = locate_policy(host, dirs_);
  EXPECT_EQ(where.origin, PolicyOrigin::User);
  EXPECT_EQ(where.host_path, "/home/alice/.config/guardian/policy.toml");
  EXPECT_EQ(where.open_path, (root_ / "home/alice/.config/guardian/policy.toml").string());
}

TEST_F(PolicyLocation, AnUnreadableUserFileIsStillTheOneChosenSoItsErrorIsReported) {
  put("/etc/xdg/guardian/policy.toml");
  // A directory where the file should be: the loader's error names it; passing over it to the
  // system's file would run a policy the user did not mean.
  fs::create_directories(root_ / "home/alice/.config/guardian/policy.toml");
  const auto where = locate_policy(HostRoot(root_.string()), dirs_);
  EXPECT_EQ(where.origin, PolicyOrigin::User);
}

}  // namespace
}  // namespace guardian
