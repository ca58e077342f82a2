#include "common/units.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cstring>
#include <random>
#include <string>
#include <vector>

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

namespace guardian {
namespace {

double by_from_chars(const std::string& text) {
  double value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::fixed);
  return value;
}

// parse_double reads short fixed numbers itself (libstdc++'s from_chars reads a table page of its
// own that the memory lock does not hold): the same value as from_chars, bit for bit, for what
// oomd's dump and the policy write ("12.34", "0.05", "-0.5", "100", "80.00%" less its sign) and
// for numbers at the edges of that path (15 significant digits, 22 after the point); longer ones
// still go to from_chars; garbage is still refused.
TEST(ParseDouble, ShortFixedNumbersAreReadExactlyAsFromChars) {
  std::vector<std::string> texts = {"0",
                                    "0.0",
                                    "12.34",
                                    "0.05",
                                    "-0.5",
                                    "100",
                                    "99.99",
                                    "1.",
                                    ".5",
                                    "-0",
                                    "007.50",
                                    "0.1",
                                    "0.2",
                                    "0.3",
                                    "123456789012345",
                                    "1.23456789012345",
                                    "0.0000000000000000000001",
                                    "9007199254740993",
                                    "1234567890123456789.5",
                                    "0.00000000000000000000001"};
  std::mt19937_64 random(42);
  for (int i = 0; i < 20000; ++i) {
    const uint64_t whole = random() % 1000000;
    const uint64_t fraction = random() % 100000000;
    const int places = static_cast<int>(random() % 9);
    std::string text = std::to_string(whole);
    if (places > 0) {
      std::string digits = std::to_string(fraction);
      digits.resize(static_cast<size_t>(places), '0');
      text += "." + digits;
    }
    texts.push_back(text);
  }
  for (const auto& text : texts) {
    auto parsed = parse_double(text);
    ASSERT_TRUE(parsed) << text;
    const double expected = by_from_chars(text);
    EXPECT_EQ(std::memcmp(&*parsed, &expected, sizeof expected), 0)
        << text << ": " << *parsed << " vs " << expected;
  }
  for (const char* bad : {"", ".", "-", "1.2.3", "1e5", "+1", "12a", " 1", "1 ", "inf", "nan", "--1"})
    EXPECT_FALSE(parse_double(bad)) << bad;
}

}  // namespace
}  // namespace guardian
