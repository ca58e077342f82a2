#include "common/units.h"

#include <gtest/gtest.h>

namespace guardian {
namespace {

TEST(ParseSize, BytesSuffixesAndPercent) {
  EXPECT_EQ(parse_size("1073741824")->bytes, 1073741824ULL);
  EXPECT_EQ(parse_size("8G")->bytes, 8ULL << 30);
  EXPECT_EQ(parse_size("8GiB")->bytes, 8ULL << 30);
  EXPECT_EQ(parse_size("512M")->bytes, 512ULL << 20);
  EXPECT_EQ(parse_size("1.5G")->bytes, 3ULL << 29);
  auto pct = parse_size("25%");
  ASSERT_TRUE(pct.ok());
  EXPECT_FALSE(pct->bytes);
  EXPECT_EQ(pct->resolve(32ULL << 30), 8ULL << 30);
}

TEST(ParseSize, RejectsGarbage) {
  for (const char* bad : {"", "G", "-1G", "8X", "101%", "1e3", "8 G G"}) {
    EXPECT_FALSE(parse_size(bad).ok()) << bad;
  }
}

TEST(ParseDuration, SystemdTimeSpans) {
  using std::chrono::microseconds;
  EXPECT_EQ(*parse_duration("20s"), microseconds(20'000'000));
  EXPECT_EQ(*parse_duration("20"), microseconds(20'000'000));
  EXPECT_EQ(*parse_duration("1min 30s"), microseconds(90'000'000));
  EXPECT_EQ(*parse_duration("500ms"), microseconds(500'000));
  EXPECT_EQ(*parse_duration("2h"), microseconds(7'200'000'000));
  EXPECT_FALSE(parse_duration("20 parsecs").ok());
  EXPECT_FALSE(parse_duration("").ok());
}

TEST(ParsePercent, AsSystemdWritesIt) {
  EXPECT_DOUBLE_EQ(*parse_percent("80%"), 80.0);
  EXPECT_DOUBLE_EQ(*parse_percent("80.5%"), 80.5);
  EXPECT_DOUBLE_EQ(*parse_percent("800\u2030"), 80.0);
  EXPECT_FALSE(parse_percent("80").ok());
  EXPECT_FALSE(parse_percent("120%").ok());
}

}  // namespace
}  // namespace guardian
