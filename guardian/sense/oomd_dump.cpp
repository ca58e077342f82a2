#include "sense/oomd_dump.h"

#include <cmath>
#include <cstdio>
#include <map>

#include "common/units.h"

namespace guardian {

std::optional<uint64_t> parse_format_bytes(std::string_view text) {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  // systemd's format_bytes(): "<n>B" below 1024, else one decimal and K/M/G/T/P/E (1024-based).
  double multiplier = 1;
  switch (text.back()) {
    case 'B': multiplier = 1; break;
    case 'K': multiplier = 1024.0; break;
    case 'M': multiplier = 1024.0 * 1024; break;
    case 'G': multiplier = 1024.0 * 1024 * 1024; break;
    case 'T': multiplier = 1024.0 * 1024 * 1024 * 1024; break;
    case 'P': multiplier = 1024.0 * 1024 * 1024 * 1024 * 1024; break;
    case 'E': multiplier = 1024.0 * 1024 * 1024 * 1024 * 1024 * 1024; break;
    default: return std::nullopt;
  }
  auto number = parse_double(text.substr(0, text.size() - 1));
  if (!number || *number < 0) return std::nullopt;
  const double bytes = *number * multiplier;
  if (bytes >= 1.8e19) return std::nullopt;
  return static_cast<uint64_t>(std::llround(bytes));
}

namespace {

struct Line {
  size_t number = 0;
  size_t depth = 0;  // leading tabs
  std::string_view key;
  std::string_view value;
  bool has_colon = false;
};

Line split_line(std::string_view raw, size_t number) {
  Line line;
  line.number = number;
  while (line.depth < raw.size() && raw[line.depth] == '\t') ++line.depth;
  std::string_view rest = raw.substr(line.depth);
  // Keys never contain ": "; the first ':' ends the key ("Pressure: Avg10: …" keeps the rest).
  const auto colon = rest.find(':');
  if (colon == std::string_view::npos) {
    line.key = trim(rest);
    return line;
  }
  line.has_colon = true;
  line.key = trim(rest.substr(0, colon));
  line.value = trim(rest.substr(colon + 1));
  return line;
}

Error line_error(const Line& line, const std::string& message) {
  return make_error("oomd dump line " + std::to_string(line.number) + ": " + message);
}

// "Avg10: 0.00 Avg60: 0.00 Avg300: 0.00 Total: 0" (252) or with ", " separators (257+).
void parse_pressure(std::string_view value, OomdDumpCgroup& into) {
  std::map<std::string, std::string> fields;
  std::string key;
  size_t i = 0;
  while (i < value.size()) {
    while (i < value.size() && (value[i] == ' ' || value[i] == ',')) ++i;
    const size_t start = i;
    while (i < value.size() && value[i] != ':') ++i;
    if (i >= value.size()) break;
    key = std::string(trim(value.substr(start, i - start)));
    ++i;  // ':'
    while (i < value.size() && value[i] == ' ') ++i;
    const size_t value_start = i;
    // The value runs to the next ", " or to the next " Word:" — Total's timespan may contain spaces.
    size_t value_end = value.size();
    for (size_t j = i; j < value.size(); ++j) {
      if (value[j] == ',') {
        value_end = j;
        break;
      }
      if (value[j] == ' ') {
        const auto next_colon = value.find(':', j);
        const auto next_space = value.find(' ', j + 1);
        if (next_colon != std::string_view::npos &&
            (next_space == std::string_view::npos || next_colon < next_space)) {
          value_end = j;
          break;
        }
      }
    }
    fields[key] = std::string(trim(value.substr(value_start, value_end - value_start)));
    i = value_end;
  }
  auto number = [&](const char* name) -> std::optional<double> {
    auto found = fields.find(name);
    if (found == fields.end()) return std::nullopt;
    return parse_double(found->second);
  };
  into.avg10 = number("Avg10");
  into.avg60 = number("Avg60");
  into.avg300 = number("Avg300");
}

}  // namespace

Result<OomdDump> parse_oomd_dump(std::string_view text) {
  OomdDump dump;
  enum class Section { Top, SystemContext, Swap, Pressure } section = Section::Top;
  bool saw_pressure_section = false;
  bool saw_default_limit = false;
  OomdDumpCgroup* current = nullptr;
  bool current_has_limit = false;
  size_t current_line = 0;
  size_t number = 0;

  auto finish_cgroup = [&]() -> Result<void> {
    if (current && !current_has_limit) {
      return make_error("oomd dump line " + std::to_string(current_line) + ": cgroup \"" + current->path +
                        "\" has no \"Memory Pressure Limit\"");
    }
    current = nullptr;
    current_has_limit = false;
    return {};
  };

  while (!text.empty()) {
    ++number;
    const auto end = text.find('\n');
    std::string_view raw = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    if (trim(raw).empty()) continue;
    const Line line = split_line(raw, number);
    if (!line.has_colon)
      return line_error(line, "expected \"Key: value\", got \"" + std::string(raw.substr(0, 80)) + "\"");

    if (line.depth == 0) {
      if (auto done = finish_cgroup(); !done) return done.error();
      if (line.key == "Dry Run") {
        if (line.value != "yes" && line.value != "no") return line_error(line, "Dry Run must be yes or no");
        dump.dry_run = line.value == "yes";
      } else if (line.key == "Swap Used Limit") {
        auto percent = parse_percent(line.value);
        if (!percent) return line_error(line, percent.error().message);
        dump.swap_used_limit_percent = *percent;
      } else if (line.key == "Default Memory Pressure Limit") {
        auto percent = parse_percent(line.value);
        if (!percent) return line_error(line, percent.error().message);
        dump.default_limit_percent = *percent;
        saw_default_limit = true;
      } else if (line.key == "Default Memory Pressure Duration") {
        auto duration = parse_duration(line.value);
        if (!duration) return line_error(line, duration.error().message);
        dump.default_duration = *duration;
      } else if (line.key == "System Context") {
        section = Section::SystemContext;
      } else if (line.key == "Swap Monitored CGroups") {
        section = Section::Swap;
      } else if (line.key == "Memory Pressure Monitored CGroups") {
        section = Section::Pressure;
        saw_pressure_section = true;
      } else {
        section = Section::Top;  // a newer oomd's section: skip its lines
      }
      continue;
    }

    if (line.depth == 1 && line.key == "Path") {
      if (auto done = finish_cgroup(); !done) return done.error();
      if (line.value.empty() || line.value.front() != '/') {
        return line_error(line, "cgroup path must start with '/', got \"" + std::string(line.value) + "\"");
      }
      if (section == Section::Swap) {
        dump.swap_monitored.emplace_back(line.value);
      } else if (section == Section::Pressure) {
        dump.pressure_monitored.push_back(OomdDumpCgroup{std::string(line.value), 0, {}, {}, {}, {}, {}, {}});
        current = &dump.pressure_monitored.back();
        current_line = line.number;
      } else {
        return line_error(line, "\"Path:\" outside of a monitored-cgroups section");
      }
      continue;
    }

    if (section == Section::Pressure) {
      if (!current) return line_error(line, "\"" + std::string(line.key) + "\" before any \"Path:\"");
      if (line.depth < 2) return line_error(line, "expected a cgroup attribute indented by two tabs");
      if (line.key == "Memory Pressure Limit") {
        auto percent = parse_percent(line.value);
        if (!percent) return line_error(line, percent.error().message);
        current->limit_percent = *percent;
        current_has_limit = true;
      } else if (line.key == "Memory Pressure Duration") {
        auto duration = parse_duration(line.value);
        if (!duration) return line_error(line, duration.error().message);
        current->duration = *duration;
      } else if (line.key == "Pressure") {
        parse_pressure(line.value, *current);
      } else if (line.key == "Current Memory Usage") {
        current->current_bytes = parse_format_bytes(line.value);
      } else if (line.key == "Pgscan") {
        current->pgscan = parse_u64(line.value);
      }
    }
    // System context and swap attributes: informational, not needed.
  }
  if (auto done = finish_cgroup(); !done) return done.error();
  if (!saw_pressure_section) {
    return make_error("oomd dump: no \"Memory Pressure Monitored CGroups:\" section (not an oomd dump?)");
  }
  if (!saw_default_limit)
    return make_error("oomd dump: no \"Default Memory Pressure Limit:\" line (not an oomd dump?)");
  return dump;
}

}  // namespace guardian
