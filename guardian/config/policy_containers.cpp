// [container_slice] and [containers]: container.slice's limits and the containers' priorities.
//
//   [container_slice]
//   unit = "container.slice"
//   memory_high = "25%"     # of RAM, or "8G", or bytes; guardian keeps the slice at this
//   memory_max = "33%"
//   floor = "15%"           # slice.balance's band for MemoryHigh
//   ceiling = "33%"
//
//   [containers]
//   protected = ["jellyfin.service"]        # never frozen
//   low_priority = ["immich-ml.service"]    # unit.freeze may name these
#include <algorithm>

#include "config/policy_sections.h"

namespace guardian {
namespace {

// Compares two sizes when they are of the same kind (both bytes or both percent of RAM).
std::optional<bool> less_than(const SizeSpec& a, const SizeSpec& b) {
  if (a.bytes && b.bytes) return *a.bytes < *b.bytes;
  if (a.percent_of_ram && b.percent_of_ram) return *a.percent_of_ram < *b.percent_of_ram;
  return std::nullopt;
}

bool looks_like_unit(const std::string& name) {
  const auto dot = name.rfind('.');
  return dot != std::string::npos && dot > 0 && dot + 1 < name.size() && name.find('/') == std::string::npos;
}

std::vector<std::string> unit_list(const toml::table& table, std::string_view key,
                                   PolicyParseContext& context, std::string_view where) {
  std::vector<std::string> units;
  const toml::array* array = context.get_array(table, key, where);
  if (!array) return units;
  for (const toml::node& element : *array) {
    const auto* text = element.as_string();
    if (!text) {
      context.error(element, "\"" + std::string(key) + "\": expected unit names as strings, got " +
                                 std::string(toml_type_name(element.type())));
      continue;
    }
    const std::string name = text->get();
    if (!looks_like_unit(name)) {
      context.error(element, "\"" + std::string(key) + "\": \"" + name +
                                 "\" is not a unit name (write e.g. \"jellyfin.service\")");
      continue;
    }
    units.push_back(name);
  }
  return units;
}

}  // namespace

void parse_container_slice_section(const toml::table& table, PolicyParseContext& context, Policy& policy) {
  constexpr std::string_view kWhere = "in [container_slice]";
  context.check_known_keys(table, {"unit", "memory_high", "memory_max", "floor", "ceiling"}, kWhere);
  auto& slice = policy.container_slice;
  if (auto unit = context.get_string(table, "unit", kWhere)) {
    if (!unit->ends_with(".slice") || !looks_like_unit(*unit))
      context.error(*table.get("unit"),
                    "\"unit\": expected a slice unit like \"container.slice\", got \"" + *unit + "\"");
    else
      slice.unit = *unit;
  }
  slice.memory_high = context.get_size(table, "memory_high", kWhere);
  slice.memory_max = context.get_size(table, "memory_max", kWhere);
  slice.floor = context.get_size(table, "floor", kWhere);
  slice.ceiling = context.get_size(table, "ceiling", kWhere);
  // Order: floor <= memory_high <= ceiling, memory_high <= memory_max (where comparable).
  auto check = [&](const std::optional<SizeSpec>& low, const char* low_name,
                   const std::optional<SizeSpec>& high, const char* high_name) {
    if (!low || !high) return;
    if (less_than(*high, *low).value_or(false)) {
      context.error(*table.get(high_name),
                    std::string("\"") + high_name + "\" must not be below \"" + low_name + "\"");
    }
  };
  check(slice.floor, "floor", slice.memory_high, "memory_high");
  check(slice.memory_high, "memory_high", slice.ceiling, "ceiling");
  check(slice.memory_high, "memory_high", slice.memory_max, "memory_max");
  check(slice.floor, "floor", slice.ceiling, "ceiling");
  const std::pair<const char*, const std::optional<SizeSpec>*> minimums[] = {
      {"memory_high", &slice.memory_high}, {"memory_max", &slice.memory_max}, {"floor", &slice.floor}};
  for (const auto& [key, value] : minimums) {
    if (*value && (*value)->bytes && *(*value)->bytes < (256ULL << 20)) {
      context.error(*table.get(key),
                    std::string("\"") + key + "\": below 256M the containers would do nothing but stall");
    }
  }
}

void parse_containers_section(const toml::table& table, PolicyParseContext& context, Policy& policy) {
  constexpr std::string_view kWhere = "in [containers]";
  context.check_known_keys(table, {"protected", "low_priority"}, kWhere);
  auto& containers = policy.containers;
  containers.protected_units = unit_list(table, "protected", context, kWhere);
  containers.low_priority_units = unit_list(table, "low_priority", context, kWhere);
  for (const auto& unit : containers.low_priority_units) {
    if (std::find(containers.protected_units.begin(), containers.protected_units.end(), unit) !=
        containers.protected_units.end()) {
      context.error(*table.get("low_priority"), "\"" + unit + "\" is both protected and low_priority");
    }
  }
  // The ladder's freezes must name low-priority containers, never protected ones.
  for (const auto& level : policy.levels) {
    for (const auto& action : level.actions) {
      if (action.type != "unit.freeze") continue;
      auto param = action.params.find("unit");
      if (param == action.params.end()) continue;
      const auto* unit = std::get_if<std::string>(&param->second.value);
      if (!unit) continue;
      const auto& protected_units = containers.protected_units;
      const auto& low = containers.low_priority_units;
      if (std::find(protected_units.begin(), protected_units.end(), *unit) != protected_units.end()) {
        context.error(param->second.pos, "unit.freeze in level \"" + level.name + "\": \"" + *unit +
                                             "\" is protected in [containers]; guardian never freezes it");
      } else if (std::find(low.begin(), low.end(), *unit) == low.end()) {
        context.error(param->second.pos,
                      "unit.freeze in level \"" + level.name + "\": \"" + *unit +
                          "\" is not in [containers] low_priority; add it there to allow freezing it");
      }
    }
  }
}

}  // namespace guardian
