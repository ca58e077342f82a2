#include "tell/dbus_status.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "component/component.h"

namespace guardian {

DaemonStatus status_from_tick(const TickView& tick) {
  DaemonStatus status;
  status.level = tick.level_name.empty() ? "normal" : tick.level_name;
  if (tick.ladder != nullptr) status.level_index = static_cast<uint32_t>(tick.ladder->level);
  if (tick.oomd != nullptr) {
    for (const auto& state : *tick.oomd) {
      WatchedCgroupStatus watched;
      watched.path = state.rule.path;
      watched.full_avg10 = state.full_avg10;
      watched.limit_percent = state.rule.limit_percent;
      watched.duration_s = std::chrono::duration<double>(state.rule.duration).count();
      watched.over_limit = state.over_limit;
      watched.seconds_over = state.seconds_over;
      watched.seconds_until_kill = state.seconds_until_kill;
      watched.likely_victim = state.likely_victim.value_or("");
      status.watched.push_back(std::move(watched));
    }
  }
  if (tick.snapshot != nullptr && tick.snapshot->system_pressure) {
    status.system_some_avg10 = tick.snapshot->system_pressure->some.avg10;
    status.system_full_avg10 = tick.snapshot->system_pressure->full.avg10;
  }
  status.active_actions = tick.active_actions;
  if (tick.policy != nullptr) status.policy_path = tick.policy->source;
  status.dry_run = tick.dry_run;
  if (tick.layout != nullptr) {
    status.mode = tick.layout->system_only() ? "system-only" : "full";
    status.mode_reason = tick.layout->system_only() ? tick.layout->system_only_reason : "";
  }
  status.version = GUARDIAN_VERSION;
  status.explanation = tick.explanation;
  return status;
}

nlohmann::json status_to_json(const DaemonStatus& status) {
  nlohmann::json watched = nlohmann::json::array();
  for (const auto& cgroup : status.watched) {
    watched.push_back({
        {"path", cgroup.path},
        {"full_avg10", cgroup.full_avg10},
        {"limit_percent", cgroup.limit_percent},
        {"duration_s", cgroup.duration_s},
        {"over_limit", cgroup.over_limit},
        {"seconds_over", cgroup.seconds_over},
        {"seconds_until_kill",
         cgroup.seconds_until_kill ? nlohmann::json(*cgroup.seconds_until_kill) : nlohmann::json(nullptr)},
        {"likely_victim",
         cgroup.likely_victim.empty() ? nlohmann::json(nullptr) : nlohmann::json(cgroup.likely_victim)},
    });
  }
  return {
      {"level", status.level},
      {"level_index", status.level_index},
      {"mode", status.mode},
      {"mode_reason",
       status.mode_reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(status.mode_reason)},
      {"policy", status.policy_path},
      {"dry_run", status.dry_run},
      {"version", status.version},
      {"system",
       {{"pressure", {{"some_avg10", status.system_some_avg10}, {"full_avg10", status.system_full_avg10}}}}},
      {"watched_cgroups", std::move(watched)},
      {"active_actions", status.active_actions},
      {"explanation", status.explanation},
  };
}

namespace {

std::string printf_string(const char* format, auto... args) {
  const int size = std::snprintf(nullptr, 0, format, args...);
  if (size <= 0) return {};
  std::string text(static_cast<size_t>(size) + 1, '\0');
  (void)std::snprintf(text.data(), text.size(), format, args...);
  text.pop_back();  // the terminating NUL
  return text;
}

}  // namespace

std::string format_status_table(const DaemonStatus& status) {
  std::string out;
  out += "level:    " + status.level +
         (status.level_index > 0 ? printf_string(" (%u)", status.level_index) : "") + "\n";
  out += "mode:     " + status.mode + (status.mode_reason.empty() ? "" : " — " + status.mode_reason) + "\n";
  out += "policy:   " + status.policy_path + (status.dry_run ? "  [dry run: decides, changes nothing]" : "") +
         "\n";
  out += printf_string("system:   memory pressure some %.2f%%, full %.2f%% (avg10)\n",
                       status.system_some_avg10, status.system_full_avg10);
  out += "\n";
  if (status.watched.empty()) {
    out += "watched cgroups: none (systemd-oomd watches nothing guardian can see)\n";
  } else {
    // The widest path sets the first column, so the numbers line up.
    size_t path_width = 6;
    for (const auto& cgroup : status.watched) path_width = std::max(path_width, cgroup.path.size());
    const int width = static_cast<int>(path_width);
    out += printf_string("%-*s  %14s  %14s  %10s  %s\n", width, "CGROUP", "FULL/LIMIT", "OVER", "KILL IN",
                         "LIKELY VICTIM");
    for (const auto& cgroup : status.watched) {
      const std::string pressure = printf_string("%.2f/%.0f%%", cgroup.full_avg10, cgroup.limit_percent);
      const std::string over = cgroup.over_limit
                                   ? printf_string("%.0fs of %.0fs", cgroup.seconds_over, cgroup.duration_s)
                                   : std::string("-");
      const std::string kill_in =
          cgroup.seconds_until_kill ? printf_string("%.0fs", *cgroup.seconds_until_kill) : std::string("-");
      out += printf_string("%-*s  %14s  %14s  %10s  %s\n", width, cgroup.path.c_str(), pressure.c_str(),
                           over.c_str(), kill_in.c_str(),
                           cgroup.likely_victim.empty() ? "-" : cgroup.likely_victim.c_str());
    }
  }
  out += "\nactive actions: ";
  if (status.active_actions.empty()) {
    out += "none\n";
  } else {
    out += "\n";
    for (const auto& action : status.active_actions) out += "  " + action + "\n";
  }
  if (!status.explanation.empty()) out += "\nwhy: " + status.explanation + "\n";
  return out;
}

}  // namespace guardian
