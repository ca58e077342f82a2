// The time syntax of journalctl's --since/--until (systemd.time(7), "PARSING TIMESTAMPS"), so
// `guardian events --since …` reads the same as `journalctl --since …`:
//   "2025-11-26 21:04:10", "2025-11-26 21:04", "2025-11-26", "21:04:10", "21:04" (today),
//   with an optional weekday before ("Wed 2025-11-26 …"), fractional seconds ("…:10.25"), a "T"
//   between date and time, and a zone after ("UTC", "Z", "+01:00"; otherwise local time);
//   "now", "today", "yesterday", "tomorrow" (local midnight); "@1764191050" (seconds since the
//   epoch); "-1h", "+30min", "2 days ago", "1h left" (relative to now).
// Pure apart from the local time zone (TZ), which journalctl uses too.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace guardian::review {

// Microseconds since the epoch for `text`, relative to `now_us` where the text is relative.
// Errors quote the text and say what was expected.
Result<int64_t> parse_journal_time(std::string_view text, int64_t now_us);

// A systemd time span ("1h 30min", "2d", "90s", "1.5h", a bare number of seconds), in
// microseconds; w (weeks), M (months, 30.44 d) and y (years, 365.25 d) as systemd reads them.
Result<int64_t> parse_timespan_us(std::string_view text);

}  // namespace guardian::review
