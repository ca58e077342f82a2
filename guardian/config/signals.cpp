#include "config/signals.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <limits>

namespace guardian {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();
constexpr std::string_view kPercentage = " is a percentage: 0 to 100";

bool trigger_fired_on(const Snapshot& snapshot, std::string_view path) {
  return std::find(snapshot.triggers_fired.begin(), snapshot.triggers_fired.end(), path) !=
         snapshot.triggers_fired.end();
}

// A PSI average, system-wide or of a cgroup. `line`/`field` pick some/full and avg10/avg60.
template <PsiLine Psi::*line, double PsiLine::*field>
std::optional<double> system_psi(const Snapshot& snapshot) {
  if (!snapshot.system_pressure) return std::nullopt;
  return (*snapshot.system_pressure).*line.*field;
}
template <PsiLine Psi::*line, double PsiLine::*field>
std::optional<double> cgroup_psi(const CgroupReading& cgroup) {
  if (cgroup.sample && cgroup.sample->pressure) return (*cgroup.sample->pressure).*line.*field;
  return std::nullopt;
}
// full avg10 falls back to oomd's reading of a watched cgroup the snapshot has no pressure for.
std::optional<double> cgroup_full_avg10(const CgroupReading& cgroup) {
  if (auto value = cgroup_psi<&Psi::full, &PsiLine::avg10>(cgroup)) return value;
  if (cgroup.oomd) return cgroup.oomd->full_avg10;
  return std::nullopt;
}

constexpr auto kSignals = std::to_array<SignalInfo>({
    {Signal::SomeAvg10, "some_avg10", 100, kPercentage, true, true, false, "oomd-watched", false, false,
     system_psi<&Psi::some, &PsiLine::avg10>, cgroup_psi<&Psi::some, &PsiLine::avg10>, nullptr},
    {Signal::FullAvg10, "full_avg10", 100, kPercentage, true, true, false, "oomd-watched", false, false,
     system_psi<&Psi::full, &PsiLine::avg10>, cgroup_full_avg10, nullptr},
    {Signal::SomeAvg60, "some_avg60", 100, kPercentage, true, true, false, "oomd-watched", false, false,
     system_psi<&Psi::some, &PsiLine::avg60>, cgroup_psi<&Psi::some, &PsiLine::avg60>, nullptr},
    {Signal::FullAvg60, "full_avg60", 100, kPercentage, true, true, false, "oomd-watched", false, false,
     system_psi<&Psi::full, &PsiLine::avg60>, cgroup_psi<&Psi::full, &PsiLine::avg60>, nullptr},
    // full avg10 as a percentage of oomd's limit for the cgroup (100 = at the limit).
    {Signal::OomdLimitPercent,
     "oomd_limit_percent",
     kInfinity,
     {},
     false,
     true,
     false,
     "oomd-watched",
     false,
     false,
     nullptr,
     [](const CgroupReading& cgroup) -> std::optional<double> {
       if (!cgroup.oomd || cgroup.oomd->rule.limit_percent <= 0) return std::nullopt;
       return cgroup.oomd->full_avg10 / cgroup.oomd->rule.limit_percent * 100.0;
     },
     nullptr},
    // The model's seconds until oomd would kill; +inf when no kill is on course.
    {Signal::SecondsUntilKill,
     "seconds_until_kill",
     kInfinity,
     {},
     false,
     true,
     false,
     "oomd-watched",
     true,
     false,
     nullptr,
     [](const CgroupReading& cgroup) -> std::optional<double> {
       // Not watched by oomd: oomd never kills it for pressure, so no kill is on course.
       if (!cgroup.oomd) return cgroup.sample ? std::optional<double>(kInfinity) : std::nullopt;
       return cgroup.oomd->seconds_until_kill.value_or(kInfinity);
     },
     nullptr},
    // memory.current as a percentage of memory.high (0 when memory.high is "max").
    {Signal::MemoryHighPercent,
     "memory_high_percent",
     kInfinity,
     {},
     false,
     true,
     false,
     "oomd-watched",
     false,
     false,
     nullptr,
     [](const CgroupReading& cgroup) -> std::optional<double> {
       if (!cgroup.sample || !cgroup.sample->memory.current_bytes) return std::nullopt;
       const auto& high = cgroup.sample->memory.high_bytes;
       if (!high) return 0.0;  // memory.high is "max": no soft limit to be near
       const double current = static_cast<double>(*cgroup.sample->memory.current_bytes);
       if (*high == 0) return current > 0 ? kInfinity : 0.0;
       return current / static_cast<double>(*high) * 100.0;
     },
     nullptr},
    // MemAvailable as a percentage of MemTotal: system-wide only.
    {Signal::MemAvailablePercent, "mem_available_percent", 100, kPercentage, true, false, false, "system",
     true, false,
     [](const Snapshot& snapshot) -> std::
                                      optional<double> {
                                        if (snapshot.meminfo.total_bytes == 0) return std::nullopt;
                                        return static_cast<double>(snapshot.meminfo.available_bytes) /
                                               static_cast<double>(snapshot.meminfo.total_bytes) * 100.0;
                                      },
     nullptr, nullptr},
    // 1 when a PSI trigger fired on the cgroup (or "/" for the system) since the last tick.
    {Signal::TriggerFired, "trigger_fired", 1, " is 1 or 0: write above = 0 (fired) or below = 1 (not fired)",
     true, true, false, "oomd-watched", false, true,
     [](const Snapshot& snapshot) -> std::optional<double> {
       return trigger_fired_on(snapshot, "/") ? 1.0 : 0.0;
     },
     [](const CgroupReading& cgroup) -> std::optional<double> {
       return trigger_fired_on(cgroup.snapshot, cgroup.path) ? 1.0 : 0.0;
     },
     nullptr},
    // The user's memory budget in use, percent: used / (used + room), room the smaller of what
    // the limit leaves and MemAvailable — [approach]'s used_percent.
    {Signal::BudgetUsedPercent, "budget_used_percent", 100, kPercentage, false, false, true,
     kUserBudgetSelector, false, false, nullptr, nullptr,
     [](const UserBudget& budget) -> std::optional<double> { return budget.used_percent; }},
    // Seconds until the budget runs out at the slope of [approach]'s window; +inf while it does
    // not grow or the window holds too few samples for a slope — [approach]'s within.
    {Signal::SecondsToBudgetExhausted,
     "seconds_to_budget_exhausted",
     kInfinity,
     {},
     false,
     false,
     true,
     kUserBudgetSelector,
     true,
     false,
     nullptr,
     nullptr,
     [](const UserBudget& budget) -> std::optional<double> { return budget.seconds_to_exhaustion; }},
});

// The table is in enumerator order, so signal_info() is an index.
constexpr bool in_enum_order() {
  for (size_t i = 0; i < kSignals.size(); ++i) {
    if (static_cast<size_t>(kSignals[i].signal) != i) return false;
  }
  return true;
}
static_assert(in_enum_order(), "kSignals lists the Signal enumerators in order, each once");

}  // namespace

std::span<const SignalInfo> signal_table() { return kSignals; }

const SignalInfo& signal_info(Signal signal) {
  assert(static_cast<size_t>(signal) < kSignals.size() && "every Signal has a row in kSignals");
  return kSignals[static_cast<size_t>(signal)];
}

std::optional<Signal> signal_from_name(std::string_view name) {
  for (const auto& info : kSignals) {
    if (info.name == name) return info.signal;
  }
  return std::nullopt;
}

std::string_view signal_name(Signal signal) { return signal_info(signal).name; }

const std::vector<std::string_view>& signal_names() {
  static const std::vector<std::string_view> kNames = [] {
    std::vector<std::string_view> names;
    names.reserve(kSignals.size());
    for (const auto& info : kSignals) names.push_back(info.name);
    return names;
  }();
  return kNames;
}

}  // namespace guardian
