// The policy where a user looks for it, end to end with the real binary over fixture homes
// (a temporary host root with home/alice and etc/xdg): `guardian init-policy` writes the
// default there and never replaces a file without --force; `guardian check-policy` with no file
// checks the one `guardian run` takes; `guardian run` without --policy takes it, says which in its
// policy-loaded event, and a SIGHUP picks up an edit (or a file created after the start).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/host_root.h"
#include "config/policy_loader.h"
#include "support/policy_texts.h"
#include "support/subprocess.h"

namespace guardian {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

using test::always_policy;

class PolicyLocationCli : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("guardian-policy-home-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    // The fixture host's cgroups and /proc (fedora42-podman), with a fresh home for alice: the
    // daemon reads both through --host-root.
    fs::copy(std::string(GUARDIAN_FIXTURES_DIR) + "/fedora42-podman", root_, fs::copy_options::recursive);
    fs::create_directories(root_ / "home/alice");
  }
  void TearDown() override { fs::remove_all(root_); }

  void put(const std::string& host_path, const std::string& text) {
    fs::create_directories((root_ / host_path.substr(1)).parent_path());
    std::ofstream(root_ / host_path.substr(1)) << text;
  }
  [[nodiscard]] std::string host(const std::string& host_path) const {
    return (root_ / host_path.substr(1)).string();
  }

  test::RunResult guardian(std::vector<std::string> args) {
    args.insert(args.begin(), GUARDIAN_BINARY);
    args.emplace_back("--host-root");
    args.push_back(root_.string());
    return test::run(args, 30s, env_);
  }

  fs::path root_;
  // alice's session as logind starts it: HOME set, no XDG_CONFIG_* (the spec's defaults apply).
  std::vector<std::string> env_ = {"HOME=/home/alice", "XDG_CONFIG_HOME=", "XDG_CONFIG_DIRS="};
};

TEST_F(PolicyLocationCli, InitPolicyWritesTheCommentedDefaultAndNeverReplacesWithoutForce) {
  const std::string policy = "/home/alice/.config/guardian/policy.toml";
  auto first = guardian({"init-policy"});
  ASSERT_EQ(first.status, 0) << first.err;
  EXPECT_EQ(first.out.substr(0, first.out.find('\n')),
            host(policy) + ": written (the default policy, commented)");
  auto written = read_file(host(policy));
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(*written, std::string(embedded_default_policy()));
  // The directories it made and the file are the user's alone.
  struct stat st {};
  ASSERT_EQ(::stat(host("/home/alice/.config/guardian").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700U);
  ASSERT_EQ(::stat(host(policy).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);

  // An edit survives a second init-policy.
  put(policy, always_policy("mine"));
  auto again = guardian({"init-policy"});
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.err.find(policy + " exists and stays as it is"), std::string::npos) << again.err;
  EXPECT_EQ(*read_file(host(policy)), always_policy("mine"));

  // --force keeps it first (policy.toml.old, then .old.2), then writes the default.
  auto forced = guardian({"init-policy", "--force"});
  ASSERT_EQ(forced.status, 0) << forced.err;
  EXPECT_EQ(*read_file(host(policy)), std::string(embedded_default_policy()));
  EXPECT_EQ(*read_file(host(policy + ".old")), always_policy("mine"));
  ASSERT_EQ(guardian({"init-policy", "--force"}).status, 0);
  EXPECT_EQ(*read_file(host(policy + ".old")), always_policy("mine"));
  EXPECT_EQ(*read_file(host(policy + ".old.2")), std::string(embedded_default_policy()));
  // Nothing else is left beside it (no temporary file).
  size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(host("/home/alice/.config/guardian")))
    ++entries;
  EXPECT_EQ(entries, 3U);
}

TEST_F(PolicyLocationCli, InitPolicyFollowsXdgConfigHome) {
  env_ = {"HOME=/home/alice", "XDG_CONFIG_HOME=/home/alice/dotfiles/config"};
  ASSERT_EQ(guardian({"init-policy"}).status, 0);
  EXPECT_TRUE(fs::exists(host("/home/alice/dotfiles/config/guardian/policy.toml")));
  EXPECT_FALSE(fs::exists(host("/home/alice/.config/guardian/policy.toml")));
}

TEST_F(PolicyLocationCli, CheckPolicyWithoutAFileChecksTheOneRunTakes) {
  auto embedded = guardian({"check-policy"});
  EXPECT_EQ(embedded.status, 0) << embedded.err;
  EXPECT_EQ(
      embedded.err,
      "guardian check-policy: no /home/alice/.config/guardian/policy.toml, /etc/xdg/guardian/policy.toml; "
      "checking the embedded default\n");
  EXPECT_NE(embedded.out.find("<embedded default>: ok ("), std::string::npos) << embedded.out;

  put("/etc/xdg/guardian/policy.toml", always_policy("site"));
  auto system = guardian({"check-policy"});
  EXPECT_EQ(system.status, 0) << system.err;
  EXPECT_EQ(system.out, host("/etc/xdg/guardian/policy.toml") + ": ok (1 level)\n");
  EXPECT_NE(system.err.find("checking /etc/xdg/guardian/policy.toml (the system policy"), std::string::npos);

  // The user's file wins, and its errors come with FILE:LINE:COL.
  put("/home/alice/.config/guardian/policy.toml", "version = 1\n[[level]]\nnmae = \"x\"\n");
  auto user = guardian({"check-policy"});
  EXPECT_EQ(user.status, 1);
  // Every line names the user's file (here: the missing name, no conditions, the typo).
  EXPECT_NE(user.out.find(host("/home/alice/.config/guardian/policy.toml") + ":3:1: unknown key \"nmae\""),
            std::string::npos)
      << user.out;
  EXPECT_EQ(
      user.out.find(host("/home/alice/.config/guardian/policy.toml") + ":2:1: missing required key \"name\""),
      0U)
      << user.out;
}

TEST_F(PolicyLocationCli, RunTakesTheUsersPolicySaysWhichAndAReloadPicksUpAnEdit) {
  put("/etc/xdg/guardian/policy.toml", always_policy("site"));
  std::vector<std::string> args = {GUARDIAN_BINARY, "run",    "--host-root",  root_.string(),
                                   "--uid",         "1000",   "--state-file", (root_ / "state.json").string(),
                                   "--log",         "stderr", "--dry-run"};
  test::Subprocess run(args, env_);
  const std::string loaded = run.wait_for("\" in force (", 10s);
  // No user file yet: the system's, and the event says where it came from.
  EXPECT_NE(
      loaded.find("from " + host("/etc/xdg/guardian/policy.toml") + " (the system's, $XDG_CONFIG_DIRS)"),
      std::string::npos)
      << run.stderr_text();
  EXPECT_NE(loaded.find("policy_origin=system"), std::string::npos) << loaded;
  ASSERT_NE(run.wait_for("level normal -> always-site", 10s), "") << run.stderr_text();

  // The user writes their own (as init-policy would, then an edit) and reloads.
  put("/home/alice/.config/guardian/policy.toml", always_policy("alice"));
  run.signal(SIGHUP);
  const std::string reloaded = run.wait_for("from " + host("/home/alice/.config/guardian/policy.toml"), 10s);
  EXPECT_NE(reloaded.find("(the user's, $XDG_CONFIG_HOME)"), std::string::npos) << run.stderr_text();
  ASSERT_NE(run.wait_for("level normal -> always-alice", 10s), "") << run.stderr_text();

  // A broken edit is refused naming the user's file; the edit before it stays in force.
  put("/home/alice/.config/guardian/policy.toml", "version = 1\n[[level]]\nnmae = \"x\"\n");
  run.signal(SIGHUP);
  ASSERT_NE(run.wait_for("policy reload refused", 10s), "") << run.stderr_text();
  EXPECT_NE(run.stderr_text().find(host("/home/alice/.config/guardian/policy.toml") + ":3:1"),
            std::string::npos)
      << run.stderr_text();
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait_exit(10s), 0) << run.stderr_text();
}

TEST_F(PolicyLocationCli, WithoutAnyFileRunSaysWhereItLookedAndTakesTheEmbeddedDefault) {
  test::Subprocess run({GUARDIAN_BINARY, "run", "--host-root", root_.string(), "--uid", "1000",
                        "--state-file", (root_ / "state.json").string(), "--log", "stderr", "--dry-run"},
                       env_);
  const std::string loaded = run.wait_for("\" in force (", 10s);
  EXPECT_NE(loaded.find("from <embedded default> (none of /home/alice/.config/guardian/policy.toml, "
                        "/etc/xdg/guardian/policy.toml exists; `guardian init-policy` writes one)"),
            std::string::npos)
      << run.stderr_text();
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait_exit(10s), 0) << run.stderr_text();
}

}  // namespace
}  // namespace guardian
