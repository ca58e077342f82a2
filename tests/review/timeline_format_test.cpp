// The table and the JSON lines of `guardian events`: columns fit the rows, colour only when asked,
// and nothing a journal field holds can reach the terminal as a control sequence.
#include "review/timeline_format.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

namespace guardian::review {
namespace {

class TimelineFormat : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }
  void TearDown() override {
    ::unsetenv("TZ");
    ::tzset();
  }
  static TimelineRow level_change() {
    TimelineRow row;
    row.time_us = 1764104650250114;  // 2025-11-25 21:04:10.250114 UTC
    row.event = "level-changed";
    row.cgroup = "/user.slice/user-1000.slice/user@1000.service/container.slice";
    row.full_avg10 = 46.12;
    row.oomd_limit_percent = 90;
    row.seconds_until_kill = 41;
    row.action = "normal -> elevated";
    row.result = "seconds_until_kill of container.slice 41.00 < 120.00";
    row.message = "level normal -> elevated: …";
    return row;
  }
};

TEST_F(TimelineFormat, TableRowsLineUpUnderTheHeader) {
  const std::vector<TimelineRow> rows = {level_change()};
  const TableLayout layout = TableLayout::fit(rows);
  EXPECT_EQ(
      format_table_header(layout, false),
      "TIME                 EVENT          CGROUP           PRESSURE  KILL IN  ACTION              RESULT\n");
  EXPECT_EQ(format_table_row(rows[0], layout, false),
            "2025-11-25 21:04:10  level-changed  container.slice  46.1/90%  41s      normal -> elevated  "
            "seconds_until_kill of container.slice 41.00 < 120.00\n");
  // Colour paints the event and keeps the columns where they were.
  const std::string colored = format_table_row(rows[0], layout, true);
  EXPECT_NE(colored.find("\033[33mlevel-changed\033[0m  container.slice"), std::string::npos) << colored;
}

TEST_F(TimelineFormat, ControlCharactersFromTheJournalNeverReachTheTerminal) {
  TimelineRow row = level_change();
  row.result = "line one\nline two\t\033]0;owned\007 \033[2J";
  row.action = "normal\033[31m -> elevated";
  const std::string line = format_table_row(row, TableLayout::fit({row}), false);
  EXPECT_EQ(line.find('\033'), std::string::npos) << line;
  EXPECT_EQ(line.find('\007'), std::string::npos) << line;
  EXPECT_NE(line.find("line one line two ]0;owned [2J"), std::string::npos) << line;
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
}

TEST_F(TimelineFormat, JsonHasEveryKeyWithNullsAndSurvivesInvalidUtf8) {
  TimelineRow row = level_change();
  row.message = "bad \xff\xfe bytes";
  const std::string line = format_json_row(row);
  ASSERT_EQ(line.back(), '\n');
  auto json = nlohmann::json::parse(line);
  EXPECT_EQ(json["time"], "2025-11-25T21:04:10.250114Z");
  EXPECT_EQ(json["time_us"], 1764104650250114);
  EXPECT_EQ(json["full_avg10"], 46.12);
  EXPECT_EQ(json["unit"], nullptr);
  EXPECT_EQ(json["kill"], nullptr);
  EXPECT_EQ(json.size(), 13u);
  EXPECT_NE(json["message"].get<std::string>().find("bad "), std::string::npos);
}

}  // namespace
}  // namespace guardian::review
