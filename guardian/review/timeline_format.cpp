#include "review/timeline_format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace guardian::review {
namespace {

constexpr const char* kReset = "\033[0m";
constexpr const char* kRed = "\033[1;31m";
constexpr const char* kYellow = "\033[33m";
constexpr const char* kGreen = "\033[32m";
constexpr const char* kDim = "\033[2m";

std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

// "46.1/80%": the cgroup's full avg10 and oomd's limit for it.
std::string pressure_cell(const TimelineRow& row) {
  if (!row.full_avg10) return "-";
  std::string cell = fixed(*row.full_avg10, 1);
  if (row.oomd_limit_percent) {
    const double limit = *row.oomd_limit_percent;
    cell += "/" + (std::fabs(limit - std::round(limit)) < 0.005 ? fixed(limit, 0) : fixed(limit, 1));
  }
  return cell + "%";
}

std::string kill_in_cell(const TimelineRow& row) {
  if (!row.seconds_until_kill) return "-";
  if (row.kill) return "now";
  return fixed(*row.seconds_until_kill, 0) + "s";
}

std::string cgroup_cell(const TimelineRow& row) {
  if (!row.cgroup.empty()) return short_cgroup_name(row.cgroup);
  if (!row.unit.empty()) return row.unit;
  return "-";
}

const char* event_color(const TimelineRow& row) {
  if (row.kill || row.event == "action-failed" || row.event == "policy-rejected" ||
      row.event == "component-failed")
    return kRed;
  if (row.event == "level-changed") return row.action.ends_with("-> normal") ? kGreen : kYellow;
  if (row.event == "action-reverted") return kGreen;
  if (row.event == "sense-problem" || row.event == "component-warning") return kDim;
  return nullptr;
}

// Width in terminal columns of UTF-8 text: code points, not bytes (cgroup names may be UTF-8).
size_t columns(const std::string& text) {
  return static_cast<size_t>(std::count_if(
      text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// A cell as the terminal will show it: journal fields are anyone's text, so control characters
// (an escape sequence in a MESSAGE) are dropped, tabs and newlines become spaces.
std::string printable(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n' || c == '\t') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) {
      out += c;
    }
  }
  return out;
}

void pad(std::string& line, const std::string& raw, size_t width, const char* color = nullptr) {
  const std::string cell = printable(raw);
  if (color) line += color;
  line += cell;
  if (color) line += kReset;
  const size_t used = columns(cell);
  line.append(width > used ? width - used : 0, ' ');
  line += "  ";
}

nlohmann::ordered_json optional_number(const std::optional<double>& value) {
  if (!value) return nullptr;
  return std::round(*value * 100.0) / 100.0;
}

template <class T>
nlohmann::ordered_json optional_integer(const std::optional<T>& value) {
  if (!value) return nullptr;
  return *value;
}

nlohmann::ordered_json text_or_null(const std::string& text) {
  if (text.empty()) return nullptr;
  return text;
}

std::string iso_utc(int64_t time_us) {
  const time_t seconds = static_cast<time_t>(time_us / 1'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(time_us % 1'000'000));
  return text;
}

}  // namespace

TableLayout TableLayout::fit(const std::vector<TimelineRow>& rows) {
  TableLayout layout{5, 6, 8, 7, 6};  // the headers' widths
  for (const auto& row : rows) {
    layout.event = std::max(layout.event, columns(printable(row.event)));
    layout.cgroup = std::max(layout.cgroup, columns(printable(cgroup_cell(row))));
    layout.pressure = std::max(layout.pressure, columns(pressure_cell(row)));
    layout.kill_in = std::max(layout.kill_in, columns(kill_in_cell(row)));
    layout.action = std::max(layout.action, columns(printable(row.action.empty() ? "-" : row.action)));
  }
  return layout;
}

std::string format_local_time(int64_t time_us) {
  const time_t seconds = static_cast<time_t>(time_us / 1'000'000);
  std::tm tm{};
  localtime_r(&seconds, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

std::string format_table_header(const TableLayout& layout, bool color) {
  std::string line;
  if (color) line += "\033[1m";
  pad(line, "TIME", 19);
  pad(line, "EVENT", layout.event);
  pad(line, "CGROUP", layout.cgroup);
  pad(line, "PRESSURE", layout.pressure);
  pad(line, "KILL IN", layout.kill_in);
  pad(line, "ACTION", layout.action);
  line += "RESULT";
  if (color) line += kReset;
  return line + "\n";
}

std::string format_table_row(const TimelineRow& row, const TableLayout& layout, bool color) {
  std::string line;
  pad(line, format_local_time(row.time_us), 19);
  pad(line, row.event, layout.event, color ? event_color(row) : nullptr);
  pad(line, cgroup_cell(row), layout.cgroup);
  pad(line, pressure_cell(row), layout.pressure);
  pad(line, kill_in_cell(row), layout.kill_in);
  pad(line, row.action.empty() ? "-" : row.action, layout.action);
  line += printable(row.result.empty() ? std::string("-") : row.result);  // one line per row
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line + "\n";
}

std::string format_json_row(const TimelineRow& row) {
  nlohmann::ordered_json json;
  json["time"] = iso_utc(row.time_us);
  json["time_us"] = row.time_us;
  json["event"] = row.event;
  json["cgroup"] = text_or_null(row.cgroup);
  json["unit"] = text_or_null(row.unit);
  json["full_avg10"] = optional_number(row.full_avg10);
  json["oomd_limit_percent"] = optional_number(row.oomd_limit_percent);
  json["seconds_until_kill"] = optional_number(row.seconds_until_kill);
  json["level"] = text_or_null(row.level);
  json["action"] = text_or_null(row.action);
  json["result"] = text_or_null(row.result);
  json["message"] = row.message;
  if (row.kill) {
    const KillDetail& kill = *row.kill;
    nlohmann::ordered_json detail;
    detail["killer"] = kill.killer;
    detail["reason"] = text_or_null(kill.reason);
    detail["watched_cgroup"] = text_or_null(kill.watched_cgroup);
    detail["processes"] = optional_integer(kill.processes);
    detail["pid"] = optional_integer(kill.pid);
    detail["task"] = text_or_null(kill.task);
    detail["anon_rss_bytes"] =
        kill.anon_rss_kb ? nlohmann::ordered_json(*kill.anon_rss_kb * 1024) : nlohmann::ordered_json(nullptr);
    detail["guardian_running"] = kill.guardian_running;
    detail["guardian_level"] = text_or_null(kill.guardian_level);
    detail["active_actions"] = kill.active_actions;
    detail["seen_by"] = kill.seen_by;
    json["kill"] = std::move(detail);
  } else {
    json["kill"] = nullptr;
  }
  // Invalid UTF-8 in a journal field must not throw: replace it.
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace guardian::review
