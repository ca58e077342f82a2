// libFuzzer target: the state file parser (act/state_store) and what a restore at start would do
// with each entry. Whatever parses must serialize and parse again to the same entries, skipping
// none the second time, never more than the cap; and an entry of a systemd kind that the policy's
// rules admit (ActionRegistry::admission) must name only a unit the policy manages, freeze only a
// low-priority unit, and never restore a limit below the floor (issue 16, item 4).
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "act/action.h"
#include "act/state_store.h"
#include "act/systemd_actions.h"

namespace {

// The incident machine's policy as far as restores care: container.slice corrected, a slice
// action on it, immich-ml low priority, jellyfin.service thawed by an action.
const guardian::Policy& policy() {
  static const guardian::Policy kPolicy = [] {
    guardian::Policy p;
    p.containers.low_priority_units = {"immich-ml.service"};
    guardian::Level level;
    level.name = "critical";
    guardian::ActionSpec slice;
    slice.type = "slice.set-memory-max";
    slice.params["unit"].value = std::string("container.slice");
    guardian::ActionSpec thaw;
    thaw.type = "unit.thaw";
    thaw.params["unit"].value = std::string("jellyfin.service");
    level.actions = {slice, thaw};
    p.levels.push_back(level);
    return p;
  }();
  return kPolicy;
}

void check_admitted(const std::string& key, const guardian::SavedValue& saved) {
  const auto* admit = guardian::builtin_actions().admission(saved.kind);
  if (admit == nullptr || !(*admit)(policy(), key, saved.original_json).ok()) return;
  const auto json = nlohmann::json::parse(saved.original_json, nullptr, false);
  if (!json.is_object() || !json.contains("unit") || !json["unit"].is_string()) std::abort();
  const auto unit = json["unit"].get<std::string>();
  if (saved.kind == "systemd.unit-freeze") {
    if (key != guardian::unit_freeze_key(unit)) std::abort();
    if (json["freezer_state"] == "frozen" && unit != "immich-ml.service") std::abort();
    if (unit != "immich-ml.service" && unit != "jellyfin.service") std::abort();
  } else if (saved.kind == "systemd.unit-property") {
    if (unit != "container.slice") std::abort();
    if (key != guardian::unit_property_key(unit, json["property"].get<std::string>())) std::abort();
    const auto& value = json.contains("value") ? json["value"] : nlohmann::json();
    if (value.is_number_unsigned() && value.get<uint64_t>() < guardian::kMinRestoredLimit &&
        (json["property"] == "MemoryHigh" || json["property"] == "MemoryMax"))
      std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed = guardian::StateStore::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!parsed.ok()) return 0;
  auto again = guardian::StateStore::parse(guardian::StateStore::serialize(parsed->entries));
  if (parsed->entries.size() > guardian::kMaxStateEntries) std::abort();
  if (!again.ok() || again->entries.size() != parsed->entries.size() || !again->skipped.empty()) std::abort();
  for (const auto& [key, saved] : parsed->entries) check_admitted(key, saved);
  return 0;
}
