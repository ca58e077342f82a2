// The systemd actions: container.slice limits, freezing low-priority containers, and the
// senpai-like balance mode. Each saves the value it changes in the StateStore first (kind
// "systemd.unit-property" or "systemd.unit-freeze"), and the restorers of those kinds put the
// values back after a crash.
//
//   slice.set-memory-high  value = "6G" | "25%" (of RAM) | "-20%" / "+10%" (of the current limit)
//   slice.set-memory-max     [unit = "container.slice"] [min = "2G"] (lower bound for relative)
//   unit.freeze            unit = "immich-ml.service"  (the policy must list it as low priority)
//   unit.thaw              unit = "…"
//   slice.balance          [unit = "container.slice"] [floor = "4G"] [ceiling = "10G"]
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "act/action.h"
#include "decide/memory_balance.h"
#include "decide/slice_limits.h"

namespace guardian {

// Adds the actions above and their restorers. They reach the user manager through
// ActionEnv::systemd; while it is empty they fail with a message that says so.
void register_systemd_actions(ActionRegistry& registry);

// slice.balance hands its settings to the systemd component, which runs the controller on each
// tick (the loop has the pressure readings; the action only turns the mode on and off).
struct BalanceMode {
  std::string unit = "container.slice";
  BalanceSettings settings;
};
// The daemon owns one (ActionEnv::balance): slice.balance turns it on and off on the worker
// thread, the systemd component reads it on the loop thread. Thread-safe.
class BalanceSwitch {
 public:
  void turn_on(BalanceMode mode);
  void turn_off();
  [[nodiscard]] std::optional<BalanceMode> mode() const;

  // Default band for slice.balance when the action does not give one: the policy's
  // [container_slice] floor/ceiling, set by the systemd component when a policy comes in.
  void set_default_band(uint64_t floor_bytes, uint64_t ceiling_bytes);
  [[nodiscard]] std::optional<std::pair<uint64_t, uint64_t>> default_band() const;

 private:
  mutable std::mutex mutex_;
  std::optional<BalanceMode> mode_;
  std::optional<std::pair<uint64_t, uint64_t>> default_band_;
};

// The latest view of oomd's watched cgroups for the actions that lower a limit
// (slice.set-memory-high/-max): decide/slice_limits.h's may_lower_limit refuses a lower limit under
// a watched cgroup whose pressure climbs. The loop updates it after each tick's model; actions read
// it on the worker thread. Thread-safe; after the first ticks an update reuses its storage.
class LowerGuardBoard {
 public:
  void update(std::string_view user_manager_path, std::span<const OomdCgroupState> states);
  // For a unit directly below the user manager ("container.slice"). Allowed when nothing is known.
  [[nodiscard]] LowerVerdict may_lower(std::string_view unit, const LowerGuardSettings& settings = {}) const;

 private:
  struct Entry {
    std::string path;
    double limit_percent = 0;
    double full_avg10 = 0;
    std::optional<double> stall_share_percent;
    std::optional<double> seconds_until_kill;
  };
  mutable std::mutex mutex_;
  std::string manager_;
  std::vector<Entry> entries_;  // the first count_ are current
  size_t count_ = 0;
};

// The systemd component's own changes to container.slice, as actions it submits to the
// ActionRunner like the ladder's:
//  - the correction to the policy's [container_slice] (type "container-slice.correct"): apply
//    saves the value found (the first original wins) and sets `wanted`; revert, at stop, puts the
//    saved original back and forgets it;
//  - one step of slice.balance's controller (type "slice.balance"): MemoryHigh to `limit`, told
//    with `detail`. slice.balance saved MemoryHigh when it was turned on and restores it when
//    turned off, so a step has nothing to revert.
// `why` says why this value (decide/slice_limits.h's reason), told with the result.
std::shared_ptr<Action> make_slice_correction(const ActionEnv& env, const std::string& unit,
                                              const std::string& property, std::optional<uint64_t> found,
                                              uint64_t wanted, const std::string& why = {});
std::shared_ptr<Action> make_balance_step(const ActionEnv& env, const std::string& unit, uint64_t limit,
                                          std::string detail);

// The value a "systemd.unit-property" entry saved ({"unit", "property", "value": bytes or null}):
// the user's original of a property guardian changed. nullopt when the JSON is not such an entry;
// the inner nullopt is "infinity" (the user had no limit).
std::optional<std::optional<uint64_t>> saved_property_value(const std::string& original_json);

// What a restore at start may touch (the state file is input, not orders):
//  - a limit only of a unit the policy manages: [container_slice]'s unit and every unit a
//    slice.set-memory-high/-max or slice.balance action names;
//  - MemoryHigh/MemoryMax never below kMinRestoredLimit: a forged "MemoryMax": 4096 would turn
//    the slice into an OOM-kill loop, and no user limits a slice of services below this (the
//    fixtures' smallest container.slice limit is 8 GiB); a lower value is reported and kept;
//  - "frozen" only for a unit the policy lists as low priority ([containers] low_priority), and
//    "running" (thaw) only for such a unit or one a unit.freeze/unit.thaw action names.
inline constexpr uint64_t kMinRestoredLimit = 256ULL << 20;
std::vector<std::string> policy_limit_units(const Policy& policy);
std::vector<std::string> policy_freeze_units(const Policy& policy);

// StateStore keys: "systemd.unit-property/<unit>/<Property>", "systemd.unit-freeze/<unit>".
std::string unit_property_key(const std::string& unit, const std::string& property);
std::string unit_freeze_key(const std::string& unit);

}  // namespace guardian
