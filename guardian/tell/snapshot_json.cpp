#include "tell/snapshot_json.h"

#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>

namespace guardian {
namespace {

using nlohmann::json;

json optional_bytes(const std::optional<uint64_t>& value) { return value ? json(*value) : json(nullptr); }

json psi_line(const PsiLine& line) {
  return {{"avg10", line.avg10}, {"avg60", line.avg60}, {"avg300", line.avg300}, {"total_us", line.total_us}};
}

json psi(const std::optional<Psi>& pressure) {
  if (!pressure) return nullptr;
  return {{"some", psi_line(pressure->some)}, {"full", psi_line(pressure->full)}};
}

json optional_number(const std::optional<double>& value) { return value ? json(*value) : json(nullptr); }

std::string iso8601(WallTime when) {
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json finite_or_null(const std::optional<double>& value) {
  return value && std::isfinite(*value) ? json(*value) : json(nullptr);
}

json user_budget_json(const UserBudget& budget) {
  if (!budget.known) return json(nullptr);
  return {{"used_bytes", budget.used_bytes},
          {"limit_bytes", budget.limit_bytes},
          {"limit_source", std::string(limit_source_name(budget.limit_source))},
          {"mem_available_bytes", budget.mem_available_bytes},
          {"room_bytes", budget.room_bytes},
          {"used_percent", budget.used_percent},
          {"slope_bytes_per_second", finite_or_null(budget.slope_bytes_per_second)},
          {"seconds_to_exhaustion", finite_or_null(budget.seconds_to_exhaustion)},
          {"pgscan_per_second", finite_or_null(budget.pgscan_per_second)},
          {"refault_file_per_second", finite_or_null(budget.refault_file_per_second)}};
}

}  // namespace

std::string user_budget_json_text(const UserBudget& budget) { return user_budget_json(budget).dump(); }

std::string snapshot_to_json(const Snapshot& snapshot, const HostLayout& layout,
                             const std::vector<OomdCgroupState>& oomd, const std::string& level, int indent,
                             const UserBudget* budget) {
  json cgroups = json::array();
  for (const auto& cgroup : snapshot.cgroups) {
    const auto& m = cgroup.memory;
    json entry = {
        {"path", cgroup.path},
        {"unit", cgroup.unit},
        {"memory",
         {{"current_bytes", optional_bytes(m.current_bytes)},
          {"high_bytes", optional_bytes(m.high_bytes)},
          {"max_bytes", optional_bytes(m.max_bytes)},
          {"low_bytes", optional_bytes(m.low_bytes)},
          {"min_bytes", optional_bytes(m.min_bytes)},
          {"anon_bytes", m.anon_bytes},
          {"file_bytes", m.file_bytes},
          {"shmem_bytes", m.shmem_bytes},
          {"swap_current_bytes", optional_bytes(m.swap_current_bytes)},
          {"pgscan", m.pgscan},
          {"pgsteal", m.pgsteal},
          {"workingset_refault_anon", m.workingset_refault_anon},
          {"workingset_refault_file", m.workingset_refault_file},
          {"events", {{"high", m.events_high}, {"max", m.events_max}, {"oom", m.events_oom}}},
          {"oom_kill", m.events_oom_kill},
          {"oom_group", m.oom_group}}},
        {"pressure", psi(cgroup.pressure)},
        {"readonly", cgroup.readonly},
        {"oomd", nullptr},
    };
    for (const auto& state : oomd) {
      if (state.rule.path != cgroup.path) continue;
      entry["oomd"] = {
          {"limit_percent", state.rule.limit_percent},
          {"duration_s", std::chrono::duration<double>(state.rule.duration).count()},
          {"source", state.rule.source},
          {"over_limit", state.over_limit},
          {"seconds_over", state.seconds_over},
          {"seconds_until_kill", optional_number(state.seconds_until_kill)},
          {"seconds_until_over", optional_number(state.seconds_until_over)},
          {"stall_share_percent", optional_number(state.stall_share_percent)},
          {"reclaim_recent", state.reclaim_recent},
          {"likely_victim", state.likely_victim ? json(*state.likely_victim) : json(nullptr)},
      };
    }
    cgroups.push_back(std::move(entry));
  }
  json doc = {
      {"time", iso8601(snapshot.wall)},
      {"mode", layout.system_only() ? "system-only" : "full"},
      {"host",
       {{"cgroup2_mount", layout.cgroup2_mount.empty() ? json(nullptr) : json(layout.cgroup2_mount)},
        {"memory_controller", layout.memory_controller},
        {"uid", layout.uid},
        {"user_manager", layout.user_manager_path.empty() ? json(nullptr) : json(layout.user_manager_path)},
        {"system_only_reason", layout.system_only() ? json(layout.system_only_reason) : json(nullptr)}}},
      {"system",
       {{"memory",
         {{"total_bytes", snapshot.meminfo.total_bytes},
          {"available_bytes", snapshot.meminfo.available_bytes},
          {"swap_total_bytes", snapshot.meminfo.swap_total_bytes},
          {"swap_free_bytes", snapshot.meminfo.swap_free_bytes}}},
        {"pressure", psi(snapshot.system_pressure)}}},
      {"cgroups", std::move(cgroups)},
      {"level", level},
  };
  if (budget) doc["user_budget"] = user_budget_json(*budget);
  return doc.dump(indent);
}

}  // namespace guardian
