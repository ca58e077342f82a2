#include "review/journal_time.h"

#include <array>
#include <cctype>
#include <cmath>
#include <ctime>
#include <optional>
#include <string>

namespace guardian::review {
namespace {

constexpr int64_t kUsecPerSec = 1'000'000;

std::string_view trim_spaces(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::optional<int> small_number(std::string_view text) {
  if (!all_digits(text) || text.size() > 4) return std::nullopt;
  int value = 0;
  for (char c : text) value = value * 10 + (c - '0');
  return value;
}

// systemd's units for a time span (src/basic/time-util.c, parse_time): longest names first
// so "ms" is not read as "m" followed by "s". "m" is minutes, "M" months.
struct SpanUnit {
  std::string_view name;
  double usec;
};
constexpr std::array kSpanUnits = {
    SpanUnit{"seconds", 1e6},     SpanUnit{"second", 1e6},
    SpanUnit{"sec", 1e6},         SpanUnit{"s", 1e6},
    SpanUnit{"minutes", 60e6},    SpanUnit{"minute", 60e6},
    SpanUnit{"min", 60e6},        SpanUnit{"months", 2629800e6},
    SpanUnit{"month", 2629800e6}, SpanUnit{"M", 2629800e6},
    SpanUnit{"msec", 1e3},        SpanUnit{"ms", 1e3},
    SpanUnit{"m", 60e6},          SpanUnit{"hours", 3600e6},
    SpanUnit{"hour", 3600e6},     SpanUnit{"hr", 3600e6},
    SpanUnit{"h", 3600e6},        SpanUnit{"days", 86400e6},
    SpanUnit{"day", 86400e6},     SpanUnit{"d", 86400e6},
    SpanUnit{"weeks", 604800e6},  SpanUnit{"week", 604800e6},
    SpanUnit{"w", 604800e6},      SpanUnit{"years", 31557600e6},
    SpanUnit{"year", 31557600e6}, SpanUnit{"y", 31557600e6},
    SpanUnit{"usec", 1},          SpanUnit{"us", 1},
    SpanUnit{"\xc2\xb5s", 1},  // µs
};

constexpr std::array<std::string_view, 7> kWeekdays = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
constexpr std::array<std::string_view, 7> kWeekdayNames = {"sunday",   "monday", "tuesday", "wednesday",
                                                           "thursday", "friday", "saturday"};

std::optional<int> weekday_index(std::string_view word) {
  std::string lower;
  for (char c : word) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (size_t i = 0; i < kWeekdays.size(); ++i) {
    if (lower == kWeekdays[i] || lower == kWeekdayNames[i]) return static_cast<int>(i);
  }
  return std::nullopt;
}

int64_t local_midnight(int64_t now_us, int day_offset) {
  const time_t now = static_cast<time_t>(now_us / kUsecPerSec);
  std::tm tm{};
  localtime_r(&now, &tm);
  tm.tm_hour = 0;
  tm.tm_min = 0;
  tm.tm_sec = 0;
  tm.tm_mday += day_offset;
  tm.tm_isdst = -1;
  return static_cast<int64_t>(std::mktime(&tm)) * kUsecPerSec;
}

enum class Zone { Local, Utc, Offset };

}  // namespace

Result<int64_t> parse_timespan_us(std::string_view text) {
  const std::string_view original = text;
  auto bad = [&] {
    return make_error("invalid time span \"" + std::string(original) +
                      "\": expected e.g. \"1h\", \"30min\", \"2d 4h\" or a number of seconds");
  };
  text = trim_spaces(text);
  if (text.empty()) return bad();
  double total = 0;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    if (i == text.size()) break;
    const size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    const std::string number_text(text.substr(start, i - start));
    if (number_text.empty() || number_text.front() == '.' || number_text.back() == '.' ||
        number_text.find('.') != number_text.rfind('.')) {
      return bad();
    }
    const double number = std::strtod(number_text.c_str(), nullptr);
    while (i < text.size() && text[i] == ' ') ++i;
    const size_t unit_start = i;
    while (i < text.size() && (std::isalpha(static_cast<unsigned char>(text[i])) ||
                               static_cast<unsigned char>(text[i]) >= 0x80)) {
      ++i;
    }
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    double scale = 0;
    if (unit.empty()) {
      // A bare number is seconds, but only as the last part ("1h 30" is 1h 30s, as systemd reads it).
      scale = 1e6;
    } else {
      for (const auto& candidate : kSpanUnits) {
        if (candidate.name == unit) {
          scale = candidate.usec;
          break;
        }
      }
      if (scale == 0) return bad();
    }
    total += number * scale;
    if (total > 1e17) return bad();
  }
  return static_cast<int64_t>(std::llround(total));
}

Result<int64_t> parse_journal_time(std::string_view text, int64_t now_us) {
  const std::string_view original = text;
  auto bad = [&](std::string_view why = {}) {
    return make_error("invalid time \"" + std::string(original) + "\"" +
                      (why.empty() ? ": expected e.g. \"2025-11-26 21:04:10\", \"21:04\", \"yesterday\", "
                                     "\"-1h\", \"2 days ago\" or \"@1764191050\""
                                   : ": " + std::string(why)));
  };
  text = trim_spaces(text);
  if (text.empty()) return bad();
  if (text == "now") return now_us;
  if (text == "today") return local_midnight(now_us, 0);
  if (text == "yesterday") return local_midnight(now_us, -1);
  if (text == "tomorrow") return local_midnight(now_us, 1);
  if (text.front() == '@') {
    const std::string_view seconds = text.substr(1);
    const size_t dot = seconds.find('.');
    const std::string_view whole = seconds.substr(0, dot);
    const std::string_view fraction =
        dot == std::string_view::npos ? std::string_view() : seconds.substr(dot + 1);
    if (!all_digits(whole) || whole.size() > 12 || (dot != std::string_view::npos && !all_digits(fraction))) {
      return bad("expected seconds since the epoch after \"@\"");
    }
    int64_t usec = std::stoll(std::string(whole)) * kUsecPerSec;
    int64_t scale = kUsecPerSec / 10;
    for (size_t i = 0; i < fraction.size() && scale > 0; ++i, scale /= 10)
      usec += (fraction[i] - '0') * scale;
    return usec;
  }
  if (text.front() == '+' || text.front() == '-') {
    auto span = parse_timespan_us(text.substr(1));
    if (!span)
      return bad("expected a time span after \"" + std::string(1, text.front()) + "\", e.g. \"-1h\"");
    return text.front() == '+' ? now_us + *span : now_us - *span;
  }
  for (const auto& [suffix, sign] :
       {std::pair{std::string_view(" ago"), -1}, std::pair{std::string_view(" left"), 1}}) {
    if (text.ends_with(suffix)) {
      auto span = parse_timespan_us(text.substr(0, text.size() - suffix.size()));
      if (!span) return bad("expected a time span before \"" + std::string(trim_spaces(suffix)) + "\"");
      return now_us + sign * *span;
    }
  }

  // An absolute time: [WEEKDAY] [DATE] [TIME] [ZONE].
  std::optional<int> weekday;
  if (const size_t space = text.find(' '); space != std::string_view::npos) {
    if (auto day = weekday_index(text.substr(0, space))) {
      weekday = day;
      text = trim_spaces(text.substr(space + 1));
    }
  }
  Zone zone = Zone::Local;
  int64_t offset_sec = 0;
  if (text.ends_with(" UTC")) {
    zone = Zone::Utc;
    text = trim_spaces(text.substr(0, text.size() - 4));
  } else if (text.size() > 1 && text.back() == 'Z' &&
             std::isdigit(static_cast<unsigned char>(text[text.size() - 2]))) {
    zone = Zone::Utc;
    text.remove_suffix(1);
  } else {
    // "+01:00" / "-0530" directly after the time (only when a time with ':' precedes it).
    const size_t sign = text.find_last_of("+-");
    const size_t colon = text.find(':');
    if (sign != std::string_view::npos && colon != std::string_view::npos && sign > colon) {
      std::string_view digits = text.substr(sign + 1);
      std::string compact;
      for (char c : digits) {
        if (c != ':') compact += c;
      }
      if (compact.size() != 4 || !all_digits(compact)) return bad("expected a zone offset like \"+01:00\"");
      const int hours = (compact[0] - '0') * 10 + (compact[1] - '0');
      const int minutes = (compact[2] - '0') * 10 + (compact[3] - '0');
      if (hours > 14 || minutes > 59) return bad("zone offset out of range");
      offset_sec = (hours * 3600 + minutes * 60) * (text[sign] == '-' ? -1 : 1);
      zone = Zone::Offset;
      text = trim_spaces(text.substr(0, sign));
    }
  }

  std::string_view date_part;
  std::string_view time_part;
  const size_t separator = text.find_first_of(" T");
  if (separator != std::string_view::npos) {
    date_part = text.substr(0, separator);
    time_part = trim_spaces(text.substr(separator + 1));
  } else if (text.find('-') != std::string_view::npos) {
    date_part = text;
  } else {
    time_part = text;
  }
  if (date_part.empty() && time_part.empty()) return bad();

  std::tm tm{};
  const time_t now = static_cast<time_t>(now_us / kUsecPerSec);
  if (zone == Zone::Local)
    localtime_r(&now, &tm);
  else {
    const time_t shifted = now + static_cast<time_t>(offset_sec);
    gmtime_r(&shifted, &tm);
  }
  if (!date_part.empty()) {
    const size_t first = date_part.find('-');
    const size_t second = first == std::string_view::npos ? first : date_part.find('-', first + 1);
    if (second == std::string_view::npos) return bad("expected a date as YYYY-MM-DD");
    const std::string_view year_text = date_part.substr(0, first);
    auto year = small_number(year_text);
    auto month = small_number(date_part.substr(first + 1, second - first - 1));
    auto day = small_number(date_part.substr(second + 1));
    if (!year || !month || !day || (year_text.size() != 4 && year_text.size() != 2)) {
      return bad("expected a date as YYYY-MM-DD");
    }
    // Two-digit years as strptime's %y reads them: 69-99 -> 19xx, 00-68 -> 20xx.
    int full_year = *year;
    if (year_text.size() == 2) full_year += *year >= 69 ? 1900 : 2000;
    if (*month < 1 || *month > 12 || *day < 1 || *day > 31) return bad("no such date");
    tm.tm_year = full_year - 1900;
    tm.tm_mon = *month - 1;
    tm.tm_mday = *day;
  }
  int64_t fraction_us = 0;
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  if (!time_part.empty()) {
    const size_t c1 = time_part.find(':');
    if (c1 == std::string_view::npos) return bad("expected a time as HH:MM or HH:MM:SS");
    const size_t c2 = time_part.find(':', c1 + 1);
    auto hour = small_number(time_part.substr(0, c1));
    auto minute = small_number(
        time_part.substr(c1 + 1, c2 == std::string_view::npos ? std::string_view::npos : c2 - c1 - 1));
    std::optional<int> second = 0;
    if (c2 != std::string_view::npos) {
      std::string_view seconds = time_part.substr(c2 + 1);
      if (const size_t dot = seconds.find('.'); dot != std::string_view::npos) {
        const std::string_view fraction = seconds.substr(dot + 1);
        if (!all_digits(fraction)) return bad("expected fractional seconds as digits");
        int64_t scale = kUsecPerSec / 10;
        for (size_t i = 0; i < fraction.size() && scale > 0; ++i, scale /= 10)
          fraction_us += (fraction[i] - '0') * scale;
        seconds = seconds.substr(0, dot);
      }
      second = small_number(seconds);
    }
    if (!hour || !minute || !second || *hour > 23 || *minute > 59 || *second > 60) {
      return bad("expected a time as HH:MM or HH:MM:SS");
    }
    tm.tm_hour = *hour;
    tm.tm_min = *minute;
    tm.tm_sec = *second;
  }
  const int wanted_mday = tm.tm_mday;
  tm.tm_isdst = -1;
  time_t seconds = zone == Zone::Local ? std::mktime(&tm) : timegm(&tm);
  if (seconds == static_cast<time_t>(-1) && !(tm.tm_year == 69 && tm.tm_mon == 11 && tm.tm_mday == 31)) {
    return bad("not representable");
  }
  if (tm.tm_mday != wanted_mday && !date_part.empty()) return bad("no such date");
  if (weekday && tm.tm_wday != *weekday) {
    return bad("that date is a " + std::string(kWeekdayNames[static_cast<size_t>(tm.tm_wday)]));
  }
  if (zone == Zone::Offset) seconds -= static_cast<time_t>(offset_sec);
  return static_cast<int64_t>(seconds) * kUsecPerSec + fraction_us;
}

}  // namespace guardian::review
