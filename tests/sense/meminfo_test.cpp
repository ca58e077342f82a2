#include "sense/meminfo.h"

#include <gtest/gtest.h>

#include "sense/fixture_support.h"

namespace guardian {
namespace {

using guardian::testing::fixture;
using guardian::testing::slurp;

TEST(ParseMeminfo, FedoraFixture) {
  // 30 GiB RAM and Fedora's 8 GiB zram swap (fixtures/fedora42-podman/README.md).
  auto info = parse_meminfo(slurp(fixture("fedora42-podman/proc/meminfo")));
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->total_bytes, 31457280ULL * 1024);
  EXPECT_EQ(info->total_bytes, 30ULL << 30);
  EXPECT_EQ(info->available_bytes, 11534336ULL * 1024);
  EXPECT_EQ(info->swap_total_bytes, 8388604ULL * 1024);
  EXPECT_EQ(info->swap_free_bytes, 6291452ULL * 1024);
}

TEST(ParseMeminfo, ThisMachine) {
  auto text = read_file("/proc/meminfo");
  ASSERT_TRUE(text.ok()) << text.error().message;
  auto info = parse_meminfo(*text);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_GT(info->total_bytes, 0u);
  EXPECT_LE(info->available_bytes, info->total_bytes);
  EXPECT_LE(info->swap_free_bytes, info->swap_total_bytes);
}

TEST(ParseMeminfo, ErrorsNameTheField) {
  const std::string good =
      "MemTotal:       24684092 kB\nMemFree:        19642636 kB\nMemAvailable:   23914208 kB\n"
      "SwapTotal:             0 kB\nSwapFree:              0 kB\nHugePages_Total:       0\n";
  ASSERT_TRUE(parse_meminfo(good).ok());
  const std::pair<std::string, std::string> cases[] = {
      {"MemTotal:       24684092 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n", "MemAvailable is missing"},
      {"MemTotal:       24684092\nMemAvailable: 1 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n",
       "line 1: MemTotal is \"24684092\", expected \"<number> kB\""},
      {"MemTotal:       x kB\nMemAvailable: 1 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n", "line 1: MemTotal is"},
      {"MemTotal: 18446744073709551615 kB\nMemAvailable: 1 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n",
       "MemTotal is"},
      {good + "MemTotal:       1 kB\n", "line 7: MemTotal twice"},
      {"garbage\n", "line 1: no \"Name:\""},
      {"", "MemTotal is missing"},
  };
  for (const auto& [text, expected] : cases) {
    auto info = parse_meminfo(text);
    ASSERT_FALSE(info.ok()) << text;
    EXPECT_NE(info.error().message.find(expected), std::string::npos) << info.error().message;
  }
}

}  // namespace
}  // namespace guardian
