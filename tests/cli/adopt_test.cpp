// `guardian adopt` end to end: the real binary with a temporary HOME holding the incident's
// jellyfin quadlet (seed 002: MemoryHigh=3G, MemoryMax=4G, Restart=always).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/scratch_dir.h"

namespace {

struct Run {
  int exit_code = -1;
  std::string out;
};

Run run(const std::string& args) {
  Run result;
  const std::string command = std::string(GUARDIAN_BINARY) + " " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class AdoptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(quadlets_);
    std::filesystem::copy_file(
        std::string(GUARDIAN_SOURCE_DIR) + "/tests/fuzz/corpus/quadlet/jellyfin.container",
        quadlets_ / "jellyfin.container");
  }
  guardian::test::ScratchDir home_{"home"};
  std::filesystem::path quadlets_ = home_ / ".config/containers/systemd";
};

TEST_F(AdoptTest, WritesTheDropInAndPrintsTheCommandsWithoutRestartingAnything) {
  auto result = run("adopt jellyfin --home " + home_.path());
  ASSERT_EQ(result.exit_code, 0) << result.out;
  const auto dropin = quadlets_ / "jellyfin.container.d/50-guardian-slice.conf";
  ASSERT_TRUE(std::filesystem::exists(dropin)) << result.out;
  const std::string text = slurp(dropin);
  EXPECT_NE(text.find("[Service]\nSlice=container.slice\n"), std::string::npos) << text;
  EXPECT_NE(result.out.find("systemctl --user daemon-reload"), std::string::npos);
  EXPECT_NE(result.out.find("systemctl --user restart jellyfin.service"), std::string::npos);
  EXPECT_NE(result.out.find("#43174"), std::string::npos);
  EXPECT_NE(result.out.find("podman 4.8"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(quadlets_ / "jellyfin.container.d/50-guardian-slice.conf.tmp"));

  auto again = run("adopt jellyfin --home " + home_.path());
  EXPECT_EQ(again.exit_code, 0) << again.out;
  EXPECT_NE(again.out.find("already in container.slice"), std::string::npos) << again.out;
}

TEST_F(AdoptTest, WarnsWhenALaterDropInSetsTheSliceAgain) {
  std::filesystem::create_directories(quadlets_ / "jellyfin.container.d");
  std::ofstream(quadlets_ / "jellyfin.container.d/90-mine.conf") << "[Service]\nSlice=media.slice\n";
  auto result = run("adopt jellyfin --home " + home_.path());
  ASSERT_EQ(result.exit_code, 0) << result.out;
  EXPECT_NE(result.out.find("90-mine.conf sorts after it"), std::string::npos) << result.out;
}

TEST_F(AdoptTest, ErrorsNameTheProblem) {
  auto missing = run("adopt immich --home " + home_.path());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("immich.container"), std::string::npos) << missing.out;
  auto bad = run("adopt ../etc --home " + home_.path());
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("not a quadlet name"), std::string::npos) << bad.out;
  std::ofstream(quadlets_ / "broken.container") << "Image=x\n";
  auto broken = run("adopt broken --home " + home_.path());
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(broken.out.find("broken.container: line 1"), std::string::npos) << broken.out;
  EXPECT_EQ(run("adopt").exit_code, 2);
  auto dry = run("adopt jellyfin --dry-run --home " + home_.path());
  EXPECT_EQ(dry.exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(quadlets_ / "jellyfin.container.d/50-guardian-slice.conf"));
}

}  // namespace
