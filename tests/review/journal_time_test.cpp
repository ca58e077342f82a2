// journalctl's --since/--until syntax: systemd.time(7) "PARSING TIMESTAMPS" and the units of
// systemd's parse_time() (src/basic/time-util.c: a month is 30.44 days, a year 365.25 days).
#include "review/journal_time.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <string>

namespace guardian::review {
namespace {

// The zone is the process's (as in journalctl); each test sets the one it means.
class JournalTime : public ::testing::Test {
 protected:
  void use_zone(const char* zone) {
    ::setenv("TZ", zone, 1);
    ::tzset();
  }
  void TearDown() override {
    ::unsetenv("TZ");
    ::tzset();
  }
  // 2025-11-26 09:30:00 UTC, a Wednesday.
  static constexpr int64_t kNow = 1764149400LL * 1'000'000;
  static int64_t utc(int year, int month, int day, int hour, int minute, int second) {
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    return static_cast<int64_t>(timegm(&tm)) * 1'000'000;
  }
  static int64_t parse(const std::string& text) {
    auto parsed = parse_journal_time(text, kNow);
    EXPECT_TRUE(parsed.ok()) << text << ": " << (parsed.ok() ? "" : parsed.error().message);
    return parsed.ok() ? *parsed : -1;
  }
};

TEST_F(JournalTime, AbsoluteTimesInUtc) {
  use_zone("UTC");
  EXPECT_EQ(parse("2025-11-25 21:04:10"), utc(2025, 11, 25, 21, 4, 10));
  EXPECT_EQ(parse("2025-11-25 21:04"), utc(2025, 11, 25, 21, 4, 0));
  EXPECT_EQ(parse("2025-11-25"), utc(2025, 11, 25, 0, 0, 0));
  EXPECT_EQ(parse("25-11-25 21:04:10"), utc(2025, 11, 25, 21, 4, 10));
  EXPECT_EQ(parse("2025-11-25T21:04:10"), utc(2025, 11, 25, 21, 4, 10));
  EXPECT_EQ(parse("2025-11-25 21:04:10.25"), utc(2025, 11, 25, 21, 4, 10) + 250'000);
  EXPECT_EQ(parse("Tue 2025-11-25 21:04:10"), utc(2025, 11, 25, 21, 4, 10));
  EXPECT_EQ(parse("21:04"), utc(2025, 11, 26, 21, 4, 0));  // today
  EXPECT_EQ(parse("08:00:30"), utc(2025, 11, 26, 8, 0, 30));
}

TEST_F(JournalTime, LocalTimeFollowsTheZoneAndAnExplicitZoneWins) {
  use_zone("Europe/Berlin");  // UTC+1 in November
  EXPECT_EQ(parse("2025-11-25 22:04:10"), utc(2025, 11, 25, 21, 4, 10));
  EXPECT_EQ(parse("2025-11-25 21:04:10 UTC"), utc(2025, 11, 25, 21, 4, 10));
  EXPECT_EQ(parse("2025-11-25T21:04:10Z"), utc(2025, 11, 25, 21, 4, 10));
  EXPECT_EQ(parse("2025-11-25 23:04:10+02:00"), utc(2025, 11, 25, 21, 4, 10));
  EXPECT_EQ(parse("2025-11-25 16:04:10-0500"), utc(2025, 11, 25, 21, 4, 10));
  // Midnight is local midnight: 2025-11-26 00:00 in Berlin is 23:00 UTC the day before.
  EXPECT_EQ(parse("today"), utc(2025, 11, 25, 23, 0, 0));
  EXPECT_EQ(parse("yesterday"), utc(2025, 11, 24, 23, 0, 0));
  EXPECT_EQ(parse("tomorrow"), utc(2025, 11, 26, 23, 0, 0));
}

TEST_F(JournalTime, WordsAndRelativeTimes) {
  use_zone("UTC");
  EXPECT_EQ(parse("now"), kNow);
  EXPECT_EQ(parse("today"), utc(2025, 11, 26, 0, 0, 0));
  EXPECT_EQ(parse("yesterday"), utc(2025, 11, 25, 0, 0, 0));
  EXPECT_EQ(parse("-1h"), kNow - 3600LL * 1'000'000);
  EXPECT_EQ(parse("+30min"), kNow + 1800LL * 1'000'000);
  EXPECT_EQ(parse("-1h 30min"), kNow - 5400LL * 1'000'000);
  EXPECT_EQ(parse("-1h30m"), kNow - 5400LL * 1'000'000);
  EXPECT_EQ(parse("2 days ago"), kNow - 2 * 86400LL * 1'000'000);
  EXPECT_EQ(parse("1w ago"), kNow - 7 * 86400LL * 1'000'000);
  EXPECT_EQ(parse("3h left"), kNow + 3 * 3600LL * 1'000'000);
  EXPECT_EQ(parse("-90"), kNow - 90LL * 1'000'000);  // a bare number is seconds
  EXPECT_EQ(parse("@1764191050"), 1764191050LL * 1'000'000);
  EXPECT_EQ(parse("@1764191050.5"), 1764191050LL * 1'000'000 + 500'000);
}

TEST_F(JournalTime, MonthsAreCapitalMMinutesAreSmallM) {
  EXPECT_EQ(*parse_timespan_us("1M"), 2629800LL * 1'000'000);
  EXPECT_EQ(*parse_timespan_us("1m"), 60LL * 1'000'000);
  EXPECT_EQ(*parse_timespan_us("1ms"), 1000);
  EXPECT_EQ(*parse_timespan_us("1.5h"), 5400LL * 1'000'000);
  EXPECT_EQ(*parse_timespan_us("1y"), 31557600LL * 1'000'000);
}

TEST_F(JournalTime, NonsenseIsRefusedWithTheTextQuoted) {
  use_zone("UTC");
  for (const char* text :
       {"", "soon", "2025-13-01", "2025-02-30", "25:00", "21:61", "2025-11-25 21:04:10 Mars",
        "Mon 2025-11-25", "-", "-1 fortnight", "@", "@12x", "2025-11", "1.2.3 ago", "12:00+99:00"}) {
    auto parsed = parse_journal_time(text, kNow);
    EXPECT_FALSE(parsed.ok()) << "\"" << text << "\" parsed as " << (parsed.ok() ? *parsed : 0);
    if (!parsed.ok()) {
      EXPECT_NE(parsed.error().message.find(std::string("\"") + text + "\""), std::string::npos);
    }
  }
  // Tuesday, not Monday: the weekday must match the date, as systemd checks.
  auto wrong_day = parse_journal_time("Mon 2025-11-25 10:00", kNow);
  ASSERT_FALSE(wrong_day.ok());
  EXPECT_NE(wrong_day.error().message.find("tuesday"), std::string::npos) << wrong_day.error().message;
}

}  // namespace
}  // namespace guardian::review
