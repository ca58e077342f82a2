// The real `guardian run` over a fixture host root, fed hostile files and signals (issue 16,
// items 8-11): a policy nested deep enough to overflow toml++'s stack, a FIFO where a file
// belongs, a device as the state file, and SIGHUP with the policy unchanged under held pressure.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/subprocess.h"

namespace guardian {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Always entered (MemAvailable is always below 100% of MemTotal): pressure held for the whole
// run. Two log actions, so a test can change one and keep the other.
std::string held_policy(const std::string& second_message) {
  return "version = 1\n[metrics]\nenabled = false\n[sampling]\ninterval = \"1s\"\n"
         "[[level]]\nname = \"held\"\nhold = \"1s\"\n"
         "enter = [ { signal = \"mem_available_percent\", cgroup = \"system\", below = 100 } ]\n"
         "actions = [ { type = \"log\", message = \"first stays\" }, { type = \"log\", message = \"" +
         second_message + "\" } ]\n";
}

// 50,000 dotted parts in one table header, about 100 KB: toml++ overflowed its stack on it.
std::string deep_policy() {
  std::string text = "version = 1\n[";
  for (int i = 0; i < 50'000; ++i) text += "a.";
  text += "a]\n";
  return text;
}

class HostileInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("guardian-hostile-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const auto path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  std::vector<std::string> run_args(const std::string& policy, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {GUARDIAN_BINARY, "run",
                                     "--host-root",   std::string(GUARDIAN_FIXTURES_DIR) + "/fedora42-podman",
                                     "--uid",         "1000",
                                     "--policy",      policy,
                                     "--state-file",  (dir_ / "state" / "state.json").string(),
                                     "--log",         "stderr"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  static size_t count(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
  }
  fs::path dir_;
};

// Item 11: every SIGHUP reverted every action, even with the same file: under real pressure a
// reload dropped all protection until the next tick climbed again.
TEST_F(HostileInputTest, AReloadOfTheSamePolicyUnderHeldPressureRevertsNothing) {
  const auto policy = write("held.toml", held_policy("second"));
  test::Subprocess guardian(run_args(policy));
  ASSERT_NE(guardian.wait_for("held/log applied: entered: first stays", 15s), "") << guardian.stderr_text();
  ASSERT_NE(guardian.wait_for("held/log applied: entered: second", 5s), "") << guardian.stderr_text();

  guardian.signal(SIGHUP);
  const std::string same = guardian.wait_for("policy reload:", 10s);
  ASSERT_NE(same, "") << guardian.stderr_text();
  EXPECT_NE(same.find("2 action(s) left in force, 0 reverted, 0 applied"), std::string::npos) << same;
  ASSERT_NE(guardian.wait_for("level=held", 8s), "") << guardian.stderr_text();
  EXPECT_EQ(guardian.stderr_text().find("held/log reverted"), std::string::npos) << guardian.stderr_text();
  EXPECT_EQ(guardian.stderr_text().find("held -> normal"), std::string::npos) << guardian.stderr_text();
  EXPECT_EQ(count(guardian.stderr_text(), "held/log applied"), 2u) << guardian.stderr_text();

  // One action's argument changes: that one is reverted and applied anew, the other stays.
  write("held.toml", held_policy("second, changed"));
  guardian.signal(SIGHUP);
  const std::string changed =
      guardian.wait_for("policy reload: 1 action(s) left in force, 1 reverted, 1 applied", 10s);
  ASSERT_NE(changed, "") << guardian.stderr_text();
  ASSERT_NE(guardian.wait_for("held/log applied: entered: second, changed", 10s), "")
      << guardian.stderr_text();
  EXPECT_NE(guardian.stderr_text().find("held/log reverted: left: second"), std::string::npos)
      << guardian.stderr_text();
  EXPECT_EQ(guardian.stderr_text().find("held/log reverted: left: first stays"), std::string::npos)
      << guardian.stderr_text();
  EXPECT_EQ(guardian.stderr_text().find("held -> normal"), std::string::npos) << guardian.stderr_text();

  guardian.signal(SIGTERM);
  EXPECT_EQ(guardian.wait_exit(10s), 0) << guardian.stderr_text();
  EXPECT_NE(guardian.stderr_text().find("held/log reverted: left: first stays"), std::string::npos);
}

// Item 8: SIGHUP with a deeply nested policy crashed the daemon (SIGSEGV inside toml++) and left
// its actions applied; at start the same file crash-looped the unit.
TEST_F(HostileInputTest, ADeeplyNestedPolicyIsRefusedWithItsLineAndTheOldOneStays) {
  const auto policy = write("live.toml", held_policy("second"));
  test::Subprocess guardian(run_args(policy));
  ASSERT_NE(guardian.wait_for("held/log applied: entered: second", 15s), "") << guardian.stderr_text();
  write("live.toml", deep_policy());
  guardian.signal(SIGHUP);
  const std::string refused = guardian.wait_for("policy reload refused", 10s);
  ASSERT_NE(refused, "") << guardian.stderr_text();
  ASSERT_NE(guardian.wait_for(policy + ":2:33: a key of more than 16 dotted parts", 5s), "")
      << guardian.stderr_text();
  ASSERT_NE(guardian.wait_for("level=held", 8s), "") << guardian.stderr_text();  // still ticking
  EXPECT_EQ(guardian.stderr_text().find("held/log reverted"), std::string::npos) << guardian.stderr_text();
  guardian.signal(SIGTERM);
  EXPECT_EQ(guardian.wait_exit(10s), 0) << guardian.stderr_text();

  auto start = test::run(run_args(policy), 10s);
  EXPECT_EQ(start.status, 1) << start.err;  // a clear refusal, not a crash
  EXPECT_NE(start.err.find(policy + ":2:33: a key of more than 16 dotted parts"), std::string::npos)
      << start.err;
}

// Item 9: a FIFO as the policy wedged guardian: `run --policy FIFO` hung at start, and after
// SIGHUP with the policy replaced by a FIFO the ticks stopped and SIGTERM was ignored.
TEST_F(HostileInputTest, AFifoAsThePolicyIsAnErrorAtStartAndOnSighupAndSigtermStillWorks) {
  const auto fifo = (dir_ / "fifo.toml").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto start = test::run(run_args(fifo), 10s);
  EXPECT_EQ(start.status, 1) << start.err;
  EXPECT_NE(start.err.find(fifo + ": cannot read policy: a FIFO, not a regular file"), std::string::npos)
      << start.err;

  const auto policy = write("live.toml", held_policy("second"));
  test::Subprocess guardian(run_args(policy));
  ASSERT_NE(guardian.wait_for("held/log applied: entered: second", 15s), "") << guardian.stderr_text();
  fs::remove(policy);
  ASSERT_EQ(::mkfifo(policy.c_str(), 0600), 0);
  guardian.signal(SIGHUP);
  ASSERT_NE(guardian.wait_for("policy reload refused", 10s), "") << guardian.stderr_text();
  ASSERT_NE(guardian.wait_for(policy + ": cannot read policy: a FIFO, not a regular file", 5s), "")
      << guardian.stderr_text();
  ASSERT_NE(guardian.wait_for("level=held", 8s), "") << guardian.stderr_text();
  guardian.signal(SIGTERM);
  EXPECT_EQ(guardian.wait_exit(10s), 0) << guardian.stderr_text();
}

// Item 10: `--state-file /dev/zero` aborted with an uncaught bad_alloc. It is refused by name, and
// guardian runs on without making changes it could not save.
TEST_F(HostileInputTest, ADeviceAsTheStateFileIsRefusedNotAnAbort) {
  const auto policy = write("held.toml", held_policy("second"));
  auto args = run_args(policy, {"--ticks", "2"});
  args[9] = "/dev/zero";
  auto result = test::run(args, 20s);
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_NE(result.err.find("state file refused: "), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("/dev/zero"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find("bad_alloc"), std::string::npos) << result.err;
}

// Item 6 end to end: a truncated state file is kept aside before the first save replaces it.
TEST_F(HostileInputTest, ATruncatedStateFileIsKeptAsideAndNamed) {
  fs::create_directories(dir_ / "state");
  ::chmod((dir_ / "state").c_str(), 0700);
  const std::string truncated = R"({"version": 1, "saved": {"systemd.unit-freeze/immich-ml.service": {"ki)";
  std::ofstream(dir_ / "state" / "state.json") << truncated;
  ::chmod((dir_ / "state" / "state.json").c_str(), 0600);
  const auto policy = write("held.toml", held_policy("second"));
  auto result = test::run(run_args(policy, {"--ticks", "2"}), 20s);
  EXPECT_EQ(result.status, 0) << result.err;
  const std::string aside = (dir_ / "state" / "state.json.corrupt").string();
  EXPECT_NE(result.err.find("kept as " + aside), std::string::npos) << result.err;
  std::ifstream in(aside);
  std::string kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(kept, truncated);
}

}  // namespace
}  // namespace guardian
