// systemd-oomd's dump text (sense/oomd_dump). Fixtures are the exact layouts of systemd 252
// (Debian 12: format strings read from /lib/systemd/systemd-oomd of systemd-oomd 252.39-1~deb12u2)
// and of 257+ (src/oom/oomd-util.c oomd_dump_memory_pressure_cgroup_context: per-cgroup
// "Memory Pressure Duration" and comma-separated pressure), in the fuzz corpus.
#include "sense/oomd_dump.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "model/oomd_live.h"

namespace guardian {
namespace {

std::string corpus(const std::string& name) {
  std::ifstream in(std::string(GUARDIAN_SOURCE_DIR) + "/tests/fuzz/corpus/oomd_dump/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

constexpr const char* kUserManager = "/user.slice/user-1000.slice/user@1000.service";

TEST(OomdDump, ParsesDebian12Format) {
  auto dump = parse_oomd_dump(corpus("debian12_252.txt"));
  ASSERT_TRUE(dump.ok()) << dump.error().message;
  EXPECT_FALSE(dump->dry_run);
  EXPECT_DOUBLE_EQ(dump->default_limit_percent, 60.0);
  EXPECT_EQ(dump->default_duration, std::chrono::seconds(20));
  ASSERT_EQ(dump->swap_monitored.size(), 1u);
  EXPECT_EQ(dump->swap_monitored[0], "/");
  ASSERT_EQ(dump->pressure_monitored.size(), 1u);
  const auto& cgroup = dump->pressure_monitored[0];
  EXPECT_EQ(cgroup.path, kUserManager);
  EXPECT_DOUBLE_EQ(cgroup.limit_percent, 50.0);
  EXPECT_FALSE(cgroup.duration.has_value());
  EXPECT_EQ(cgroup.avg10, 0.0);
  auto watched = watched_from_dump(*dump);
  ASSERT_EQ(watched.size(), 1u);
  EXPECT_EQ(watched[0].unit, "user@1000.service");
  EXPECT_EQ(watched[0].duration, std::chrono::seconds(20));  // the default, 252 has none per cgroup
  EXPECT_EQ(watched[0].source, "oomd live dump");
}

TEST(OomdDump, ParsesV257FormatWithPerCgroupDurationAndCommas) {
  auto dump = parse_oomd_dump(corpus("fedora42_257.txt"));
  ASSERT_TRUE(dump.ok()) << dump.error().message;
  ASSERT_EQ(dump->pressure_monitored.size(), 2u);
  const auto& app = dump->pressure_monitored[0];
  EXPECT_EQ(app.path, std::string(kUserManager) + "/app.slice");
  EXPECT_DOUBLE_EQ(app.limit_percent, 80.0);
  EXPECT_EQ(app.duration, std::chrono::microseconds(20'000'000));
  EXPECT_EQ(app.avg10, 62.33);
  EXPECT_EQ(app.avg60, 30.10);
  EXPECT_EQ(app.avg300, 8.00);
  EXPECT_EQ(app.pgscan, 1822312u);
  EXPECT_EQ(app.current_bytes, parse_format_bytes("12.9G"));
}

TEST(OomdDump, BadInputNamesTheLine) {
  auto missing = parse_oomd_dump("Dry Run: no\nDefault Memory Pressure Limit: 60.00%\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("Memory Pressure Monitored CGroups"), std::string::npos);

  auto bad_limit = parse_oomd_dump(
      "Default Memory Pressure Limit: 60.00%\nMemory Pressure Monitored CGroups:\n\tPath: /a.slice\n"
      "\t\tMemory Pressure Limit: lots\n");
  ASSERT_FALSE(bad_limit.ok());
  EXPECT_NE(bad_limit.error().message.find("line 4"), std::string::npos) << bad_limit.error().message;

  auto no_limit = parse_oomd_dump(
      "Default Memory Pressure Limit: 60.00%\nMemory Pressure Monitored CGroups:\n\tPath: /a.slice\n"
      "\t\tCurrent Memory Usage: 1.0G\n");
  ASSERT_FALSE(no_limit.ok());
  EXPECT_NE(no_limit.error().message.find("/a.slice"), std::string::npos);

  auto garbage = parse_oomd_dump("<html>503</html>\n");
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().message.find("line 1"), std::string::npos);
}

TEST(OomdDump, FormatBytes) {
  EXPECT_EQ(parse_format_bytes("0B"), 0u);
  EXPECT_EQ(parse_format_bytes("517.3M"), static_cast<uint64_t>(517.3 * 1024 * 1024 + 0.5));
  EXPECT_EQ(parse_format_bytes("1.0G"), 1ULL << 30);
  EXPECT_FALSE(parse_format_bytes("12 apples").has_value());
}

}  // namespace
}  // namespace guardian
