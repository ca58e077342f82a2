// How `guardian events` prints the timeline: a table for people, JSON lines for programs.
//
//   TIME                 EVENT          CGROUP           PRESSURE  KILL IN  ACTION            RESULT
//   2025-11-26 21:04:10  level-changed  container.slice  46.1/80%  38s      normal -> elevated ...
//
// TIME is local time in the form --since accepts, PRESSURE is the full avg10 of the cgroup and
// oomd's limit for it at that moment, KILL IN guardian's predicted seconds until oomd's kill
// ("now" on oomd's own kill).
#pragma once

#include <string>
#include <vector>

#include "review/timeline.h"

namespace guardian::review {

struct TableLayout {
  size_t event = 15;
  size_t cgroup = 24;
  size_t pressure = 9;
  size_t kill_in = 7;
  size_t action = 22;
  // Widths that fit every row (at least the headers).
  static TableLayout fit(const std::vector<TimelineRow>& rows);
};

// "2025-11-26 21:04:10" in local time.
std::string format_local_time(int64_t time_us);

std::string format_table_header(const TableLayout& layout, bool color);
std::string format_table_row(const TimelineRow& row, const TableLayout& layout, bool color);
// One JSON object, one line.
std::string format_json_row(const TimelineRow& row);

}  // namespace guardian::review
