// `guardian check-policy` end to end: the real binary, real files, exit codes and output lines as
// DESIGN.md specifies them.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

#include "common/host_root.h"
#include "support/subprocess.h"

namespace guardian {
namespace {

namespace fs = std::filesystem;

struct CliRun {
  int status = -1;
  std::string out;
  std::string err;
};

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

class CheckPolicyCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("guardian-check-policy-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const auto path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

  CliRun run(const std::vector<std::string>& args) {
    std::string command = shell_quote(GUARDIAN_BINARY) + " check-policy";
    for (const auto& arg : args) command += " " + shell_quote(arg);
    const std::string err_path = (dir_ / "stderr").string();
    command += " 2>" + shell_quote(err_path);
    CliRun result;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) return result;
    char buf[4096];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) result.out.append(buf, n);
    const int status = ::pclose(pipe);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    auto err = read_file(err_path);
    if (err) result.err = *err;
    return result;
  }

  fs::path dir_;
};

constexpr char kGood[] = R"(version = 1
[[level]]
name = "elevated"
enter = [ { signal = "oomd_limit_percent", above = 50 } ]
actions = [ { type = "log", message = "rising" } ]
)";

TEST_F(CheckPolicyCli, ValidFilesPrintOkWithTheirLevelCount) {
  const std::string good = write("good.toml", kGood);
  const std::string shipped = std::string(GUARDIAN_SOURCE_DIR) + "/policies/default.toml";
  CliRun r = run({good, shipped});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, good + ": ok (1 level)\n" + shipped + ": ok (2 levels)\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(CheckPolicyCli, ErrorsAreOneLinePerProblemAndExitOne) {
  const std::string good = write("good.toml", kGood);
  const std::string bad = write("bad.toml", R"(version = 1
[sampling]
trigger = "some 150ms 1s"
[[level]]
name = "elevated"
hlod = "30s"
enter = [ { signal = "oomd_limit_percent", above = 50 } ]
actions = [ { type = "notfy", summary = "x" }, { type = "teleport", memory_high = "6G" } ]
)");
  CliRun r = run({bad, good});
  EXPECT_EQ(r.status, 1);
  // The list of known types grows with every action family; it is checked once, below.
  EXPECT_NE(r.out.find(" (this build knows: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("log, notify"), std::string::npos) << r.out;
  const std::string out = std::regex_replace(r.out, std::regex(R"( \(this build knows: [^)]*\))"), "");
  EXPECT_EQ(out, bad +
                     ":3:11: \"trigger\": PSI trigger window must be 2s, 4s, 6s, 8s or 10s: without "
                     "CAP_SYS_RESOURCE the kernel accepts only multiples of 2 s, at most 10 s\n" +
                     bad + ":6:1: unknown key \"hlod\" in [[level]] \"elevated\"; did you mean \"hold\"?\n" +
                     bad + ":8:22: unknown action type \"notfy\"; did you mean \"notify\"?\n" + bad +
                     ":8:57: unknown action type \"teleport\"\n" + good + ": ok (1 level)\n");
}

TEST_F(CheckPolicyCli, UsageAndUnreadableFilesExitTwo) {
  // (Without a file it checks the policy `guardian run` takes: tests/cli/policy_location_cli_test.cpp.)
  CliRun option = run({"--frobnicate"});
  EXPECT_EQ(option.status, 2);
  EXPECT_NE(option.err.find("unknown option \"--frobnicate\""), std::string::npos);

  const std::string missing = (dir_ / "missing.toml").string();
  const std::string bad = write("bad.toml", "version = 3\n");
  CliRun r = run({missing, bad});
  EXPECT_EQ(r.status, 2);  // an unreadable file outranks a validation error
  EXPECT_EQ(r.err, "guardian check-policy: " + missing + ": cannot read policy: No such file or directory\n");
  EXPECT_EQ(r.out, bad + ":1:11: unsupported policy version 3: this guardian reads version 1\n");
}

// Issue 16, items 8 and 9: a policy nested 50,000 deep crashed check-policy (a stack overflow
// inside toml++) and a FIFO hung it. Each is one clear line now, within a bounded time.
TEST_F(CheckPolicyCli, ADeeplyNestedPolicyOrAFifoIsOneErrorNotACrashOrAHang) {
  std::string deep_text = "version = 1\n[";
  for (int i = 0; i < 50'000; ++i) deep_text += "a.";
  deep_text += "a]\n";
  const std::string deep = write("deep.toml", deep_text);
  auto nested = test::run({GUARDIAN_BINARY, "check-policy", deep}, std::chrono::seconds(10));
  EXPECT_EQ(nested.status, 1) << nested.err;
  EXPECT_EQ(nested.out,
            deep + ":2:33: a key of more than 16 dotted parts (a.b.c…); a policy's keys have at most 2\n");

  const std::string fifo = (dir_ / "fifo.toml").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto piped = test::run({GUARDIAN_BINARY, "check-policy", fifo}, std::chrono::seconds(10));
  EXPECT_EQ(piped.status, 2) << piped.err;
  EXPECT_EQ(piped.err,
            "guardian check-policy: " + fifo + ": cannot read policy: a FIFO, not a regular file\n");
}

TEST_F(CheckPolicyCli, PrintDefaultIsTheEmbeddedPolicyAndItChecksOk) {
  CliRun r = run({"--print-default"});
  EXPECT_EQ(r.status, 0);
  auto file = read_file(std::string(GUARDIAN_SOURCE_DIR) + "/policies/default.toml");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(r.out, *file);
  const std::string copy = write("printed.toml", r.out);
  EXPECT_EQ(run({copy}).status, 0);
}

TEST_F(CheckPolicyCli, ListActionsShowsTheRegistry) {
  CliRun r = run({"--list-actions"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("log "), std::string::npos);
  EXPECT_NE(r.out.find("notify "), std::string::npos);
}

}  // namespace
}  // namespace guardian
