// Interprets oomd.conf and unit drop-ins the way systemd does. Behaviour checked against
// systemd's src/shared/conf-parser.c (config_parse: comments, continuations, sections),
// src/oom/oomd.c (v252 parse_config + manager_start: limits as permyriad, duration > 0 or default),
// src/oom/oomd-manager.c (v257 manager_parse_config_file) and src/core/load-fragment.c
// (config_parse_managed_oom_mode, _mem_pressure_limit, _mem_pressure_duration_sec, _preference).
#include "model/oomd_config.h"

#include <cmath>
#include <string>

#include "common/units.h"

namespace guardian {
namespace {

std::string where(std::string_view file, size_t line) {
  return std::string(file) + ":" + std::to_string(line) + ": ";
}

void warn(std::vector<std::string>* warnings, std::string message) {
  if (warnings) warnings->push_back(std::move(message));
}

bool is_comment_start(char c) { return c == '#' || c == ';'; }

// systemd reads these limits with parse_permyriad(): "80.55%", "805.5‰" and "8055‱" are fine,
// anything finer than a permyriad is rejected (and the previous value kept).
Result<double> parse_permyriad_percent(std::string_view text) {
  auto percent = parse_percent(text);
  if (!percent) return percent;
  const double permyriad = *percent * 100.0;
  if (std::fabs(permyriad - std::round(permyriad)) > 1e-6) {
    return make_error("invalid percentage \"" + std::string(text) +
                      "\": systemd accepts at most two decimals (\"80.55%\")");
  }
  return std::round(permyriad) / 100.0;
}

}  // namespace

IniDocument parse_systemd_ini(std::string_view text, std::string_view file_name) {
  IniDocument doc;
  std::string section;
  std::string continuation;  // a logical line being joined across '\'-terminated lines
  size_t continuation_start = 0;
  size_t line_number = 0;

  auto handle_logical_line = [&](std::string_view line, size_t number) {
    line = trim(line);
    if (line.empty() || is_comment_start(line.front())) return;
    if (line.front() == '[') {
      if (line.back() != ']' || line.size() < 3) {
        doc.warnings.push_back(where(file_name, number) + "invalid section header \"" + std::string(line) +
                               "\", ignoring line");
        return;
      }
      section = std::string(line.substr(1, line.size() - 2));
      return;
    }
    const auto equals = line.find('=');
    if (equals == std::string_view::npos) {
      doc.warnings.push_back(where(file_name, number) + "missing '=' in \"" + std::string(line) +
                             "\", ignoring line");
      return;
    }
    const std::string_view key = trim(line.substr(0, equals));
    if (key.empty()) {
      doc.warnings.push_back(where(file_name, number) + "assignment without a key, ignoring line");
      return;
    }
    if (section.empty()) {
      doc.warnings.push_back(where(file_name, number) + "assignment outside of a section, ignoring line");
      return;
    }
    doc.assignments.push_back(
        IniAssignment{section, std::string(key), std::string(trim(line.substr(equals + 1))), number});
  };

  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t newline = text.find('\n', pos);
    const bool last = newline == std::string_view::npos;
    std::string_view raw = text.substr(pos, last ? std::string_view::npos : newline - pos);
    pos = last ? text.size() + 1 : newline + 1;
    if (last && raw.empty()) break;  // the text ended with '\n'
    ++line_number;

    const std::string_view stripped = trim(raw);
    // systemd skips comment lines even in the middle of a continued line.
    if (!continuation.empty() && !stripped.empty() && is_comment_start(stripped.front())) continue;

    const bool continues = !stripped.empty() && stripped.back() == '\\';
    if (continues) {
      if (continuation.empty()) continuation_start = line_number;
      continuation.append(stripped.substr(0, stripped.size() - 1));
      continuation.push_back(' ');
      continue;
    }
    if (!continuation.empty()) {
      continuation.append(stripped);
      handle_logical_line(continuation, continuation_start);
      continuation.clear();
    } else {
      handle_logical_line(raw, line_number);
    }
  }
  if (!continuation.empty()) {
    // A file may end in a backslash: systemd then takes what it has.
    handle_logical_line(continuation, continuation_start);
  }
  return doc;
}

OomdDefaults parse_oomd_conf(const std::vector<ConfigFile>& files, std::vector<std::string>* warnings) {
  const OomdDefaults upstream;
  OomdDefaults result;
  for (const auto& file : files) {
    IniDocument doc = parse_systemd_ini(file.content, file.path);
    for (auto& w : doc.warnings) warn(warnings, std::move(w));
    bool file_set_something = false;
    for (const auto& a : doc.assignments) {
      const std::string here = where(file.path, a.line);
      if (a.section != "OOM") {
        warn(warnings, here + "unknown section [" + a.section + "] in oomd.conf, ignoring " + a.key + "=");
        continue;
      }
      if (a.key == "DefaultMemoryPressureLimit" || a.key == "SwapUsedLimit") {
        double& target =
            a.key == "SwapUsedLimit" ? result.swap_used_limit_percent : result.memory_pressure_limit_percent;
        if (a.value.empty()) {
          target = a.key == "SwapUsedLimit" ? upstream.swap_used_limit_percent
                                            : upstream.memory_pressure_limit_percent;
          file_set_something = true;
          continue;
        }
        auto percent = parse_permyriad_percent(a.value);
        if (!percent) {
          warn(warnings, here + a.key + "=: " + percent.error().message + ", ignoring");
          continue;
        }
        target = *percent;
        file_set_something = true;
      } else if (a.key == "DefaultMemoryPressureDurationSec") {
        if (a.value.empty()) {
          result.memory_pressure_duration = upstream.memory_pressure_duration;
          file_set_something = true;
          continue;
        }
        auto duration = parse_duration(a.value);
        if (!duration) {
          warn(warnings, here + a.key + "=: " + duration.error().message + ", ignoring");
          continue;
        }
        result.memory_pressure_duration =
            duration->count() > 0 ? *duration : upstream.memory_pressure_duration;
        file_set_something = true;
      } else {
        warn(warnings, here + "unknown key " + a.key + "= in [OOM], ignoring");
      }
    }
    if (file_set_something) result.sources.push_back(file.path);
  }
  return result;
}

ManagedOomSettings parse_managed_oom(const std::vector<ConfigFile>& fragments,
                                     std::vector<std::string>* warnings) {
  ManagedOomSettings result;
  for (const auto& file : fragments) {
    IniDocument doc = parse_systemd_ini(file.content, file.path);
    for (auto& w : doc.warnings) warn(warnings, std::move(w));
    for (const auto& a : doc.assignments) {
      if (a.section != "Slice" && a.section != "Service" && a.section != "Scope") continue;
      const std::string here = where(file.path, a.line);
      if (a.key == "ManagedOOMMemoryPressure") {
        // config_parse_managed_oom_mode: "auto" or "kill"; empty resets to auto.
        if (a.value.empty() || a.value == "auto") {
          result.memory_pressure_kill = false;
          result.source.clear();
        } else if (a.value == "kill") {
          result.memory_pressure_kill = true;
          result.source = file.path;
        } else {
          warn(warnings, here + "ManagedOOMMemoryPressure=: invalid mode \"" + a.value +
                             "\": expected \"auto\" or \"kill\", ignoring");
        }
      } else if (a.key == "ManagedOOMMemoryPressureLimit") {
        if (a.value.empty()) {
          result.memory_pressure_limit_percent.reset();
          continue;
        }
        auto percent = parse_permyriad_percent(a.value);
        if (!percent) {
          warn(warnings, here + "ManagedOOMMemoryPressureLimit=: " + percent.error().message + ", ignoring");
          continue;
        }
        result.memory_pressure_limit_percent = *percent;
      } else if (a.key == "ManagedOOMMemoryPressureDurationSec") {
        if (a.value.empty()) {
          result.memory_pressure_duration.reset();
          continue;
        }
        auto duration = parse_duration(a.value);
        if (!duration) {
          warn(warnings,
               here + "ManagedOOMMemoryPressureDurationSec=: " + duration.error().message + ", ignoring");
          continue;
        }
        // load-fragment.c rejects spans below one second.
        if (*duration < std::chrono::seconds(1)) {
          warn(warnings,
               here + "ManagedOOMMemoryPressureDurationSec=" + a.value + ": must be at least 1s, ignoring");
          continue;
        }
        result.memory_pressure_duration = *duration;
      } else if (a.key == "ManagedOOMPreference") {
        if (a.value.empty()) {
          result.preference = "none";
        } else if (a.value == "none" || a.value == "avoid" || a.value == "omit") {
          result.preference = a.value;
        } else {
          warn(warnings, here + "ManagedOOMPreference=: invalid value \"" + a.value +
                             "\": expected none, avoid or omit, ignoring");
        }
      }
    }
  }
  return result;
}

}  // namespace guardian
