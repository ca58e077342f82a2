#include "tell/dbus_status.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "component/component.h"

namespace guardian {

DaemonStatus status_from_tick(const TickView& tick) {
  DaemonStatus status;
  status_from_tick(tick, status);
  return status;
}

void status_from_tick(const TickView& tick, DaemonStatus& status) {
  status.level.assign(tick.level_name.empty() ? std::string_view("normal")
                                              : std::string_view(tick.level_name));
  status.level_index = tick.ladder != nullptr ? static_cast<uint32_t>(tick.ladder->level) : 0;
  const size_t watched_count = tick.oomd != nullptr ? tick.oomd->size() : 0;
  status.watched.resize(watched_count);
  for (size_t i = 0; i < watched_count; ++i) {
    const OomdCgroupState& state = (*tick.oomd)[i];
    WatchedCgroupStatus& watched = status.watched[i];
    watched.path.assign(state.rule.path);
    watched.full_avg10 = state.full_avg10;
    watched.limit_percent = state.rule.limit_percent;
    watched.duration_s = std::chrono::duration<double>(state.rule.duration).count();
    watched.over_limit = state.over_limit;
    watched.seconds_over = state.seconds_over;
    watched.seconds_until_kill = state.seconds_until_kill;
    if (state.likely_victim)
      watched.likely_victim.assign(*state.likely_victim);
    else
      watched.likely_victim.clear();
  }
  status.system_some_avg10 = 0;
  status.system_full_avg10 = 0;
  if (tick.snapshot != nullptr && tick.snapshot->system_pressure) {
    status.system_some_avg10 = tick.snapshot->system_pressure->some.avg10;
    status.system_full_avg10 = tick.snapshot->system_pressure->full.avg10;
  }
  status.active_actions.resize(tick.active_actions.size());
  for (size_t i = 0; i < tick.active_actions.size(); ++i)
    status.active_actions[i].assign(tick.active_actions[i]);
  if (tick.policy != nullptr)
    status.policy_path.assign(tick.policy->source);
  else
    status.policy_path.clear();
  status.dry_run = tick.dry_run;
  if (tick.layout != nullptr) {
    status.mode.assign(tick.layout->system_only() ? "system-only" : "full");
    if (tick.layout->system_only())
      status.mode_reason.assign(tick.layout->system_only_reason);
    else
      status.mode_reason.clear();
  } else {
    status.mode.assign("system-only");
    status.mode_reason.clear();
  }
  status.version.assign(GUARDIAN_VERSION);
  status.explanation.assign(tick.explanation);
  status.tick_lateness_max_s = 0;
  if (tick.lateness != nullptr && tick.snapshot != nullptr)
    status.tick_lateness_max_s = tick.lateness->window_max_seconds(tick.snapshot->mono);
  if (!tick.memory_lock_description.empty())
    status.memory_lock.assign(tick.memory_lock_description);
  else if (tick.memory_lock != nullptr)
    status.memory_lock = tick.memory_lock->describe();
  else
    status.memory_lock.clear();
  status.wake_source.assign(tick.wake_source);
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
      {"tick_lateness_max_s", status.tick_lateness_max_s},
      {"memory_lock", status.memory_lock},
      {"wake_source", status.wake_source},
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
  out += printf_string("loop:     timer read at most %.2f s late over the last minute",
                       status.tick_lateness_max_s) +
         (status.tick_lateness_max_s > 2 ? " (stalled)" : "") + "\n";
  if (!status.memory_lock.empty()) out += "memory:   " + status.memory_lock + "\n";
  if (!status.wake_source.empty()) out += "wake:     " + status.wake_source + "\n";
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
