#include "config/policy.h"

#include <array>
#include <utility>

namespace guardian {
namespace {

constexpr std::array<std::pair<Signal, std::string_view>, 9> kSignalNames = {{
    {Signal::SomeAvg10, "some_avg10"},
    {Signal::FullAvg10, "full_avg10"},
    {Signal::SomeAvg60, "some_avg60"},
    {Signal::FullAvg60, "full_avg60"},
    {Signal::OomdLimitPercent, "oomd_limit_percent"},
    {Signal::SecondsUntilKill, "seconds_until_kill"},
    {Signal::MemoryHighPercent, "memory_high_percent"},
    {Signal::MemAvailablePercent, "mem_available_percent"},
    {Signal::TriggerFired, "trigger_fired"},
}};

}  // namespace

std::optional<Signal> signal_from_name(std::string_view name) {
  for (const auto& [signal, text] : kSignalNames) {
    if (text == name) return signal;
  }
  return std::nullopt;
}

std::string_view signal_name(Signal signal) {
  for (const auto& [candidate, text] : kSignalNames) {
    if (candidate == signal) return text;
  }
  return "unknown";
}

const std::vector<std::string_view>& signal_names() {
  static const std::vector<std::string_view> kNames = [] {
    std::vector<std::string_view> names;
    names.reserve(kSignalNames.size());
    for (const auto& entry : kSignalNames) names.push_back(entry.second);
    return names;
  }();
  return kNames;
}

}  // namespace guardian
