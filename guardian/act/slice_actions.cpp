// slice.set-memory-high, slice.set-memory-max, slice.balance, the "systemd.unit-property"
// restorer, and the shared plumbing of the systemd actions.
#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "act/basic_actions.h"
#include "act/state_store.h"
#include "act/systemd_actions.h"
#include "act/systemd_actions_internal.h"
#include "act/unit_manager.h"
#include "common/host_root.h"
#include "common/units.h"

namespace guardian {

void BalanceSwitch::turn_on(BalanceMode mode) {
  std::lock_guard lock(mutex_);
  mode_ = std::move(mode);
}
void BalanceSwitch::turn_off() {
  std::lock_guard lock(mutex_);
  mode_.reset();
}
std::optional<BalanceMode> BalanceSwitch::mode() const {
  std::lock_guard lock(mutex_);
  return mode_;
}
void BalanceSwitch::set_default_band(uint64_t floor_bytes, uint64_t ceiling_bytes) {
  std::lock_guard lock(mutex_);
  default_band_ = std::make_pair(floor_bytes, ceiling_bytes);
}
std::optional<std::pair<uint64_t, uint64_t>> BalanceSwitch::default_band() const {
  std::lock_guard lock(mutex_);
  return default_band_;
}

void LowerGuardBoard::update(std::string_view user_manager_path, std::span<const OomdCgroupState> states) {
  std::lock_guard lock(mutex_);
  manager_.assign(user_manager_path);
  count_ = 0;
  for (const auto& state : states) {
    if (!state.present) continue;
    if (count_ == entries_.size()) entries_.emplace_back();
    Entry& entry = entries_[count_++];
    entry.path.assign(state.rule.path);
    entry.limit_percent = state.rule.limit_percent;
    entry.full_avg10 = state.full_avg10;
    entry.stall_share_percent = state.stall_share_percent;
    entry.seconds_until_kill = state.seconds_until_kill;
  }
}

LowerVerdict LowerGuardBoard::may_lower(std::string_view unit, const LowerGuardSettings& settings) const {
  std::lock_guard lock(mutex_);
  if (manager_.empty()) return {};
  const std::string cgroup = manager_ + "/" + std::string(unit);
  std::vector<WatchedPressure> watched;
  watched.reserve(count_);
  for (size_t i = 0; i < count_; ++i) {
    const Entry& entry = entries_[i];
    watched.push_back({entry.path, entry.limit_percent, entry.full_avg10, entry.stall_share_percent,
                       entry.seconds_until_kill});
  }
  return may_lower_limit(cgroup, watched, settings);
}

std::string unit_property_key(const std::string& unit, const std::string& property) {
  return "systemd.unit-property/" + unit + "/" + property;
}
std::string unit_freeze_key(const std::string& unit) { return "systemd.unit-freeze/" + unit; }

std::optional<std::optional<uint64_t>> saved_property_value(const std::string& original_json) {
  nlohmann::json json = nlohmann::json::parse(original_json, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("value")) return std::nullopt;
  const auto& value = json["value"];
  if (value.is_null()) return std::optional<uint64_t>();
  if (value.is_number_unsigned()) return std::optional<uint64_t>(value.get<uint64_t>());
  return std::nullopt;
}

std::vector<std::string> policy_limit_units(const Policy& policy) {
  std::vector<std::string> units{policy.container_slice.unit};
  for (const auto& level : policy.levels) {
    for (const auto& action : level.actions) {
      if (action.type != "slice.set-memory-high" && action.type != "slice.set-memory-max" &&
          action.type != "slice.balance")
        continue;
      units.push_back(param_string(action, "unit", "container.slice"));
    }
  }
  return units;
}

namespace systemd_actions {

// Which "systemd.unit-property" entries a restore at start may act on (systemd_actions.h).
Result<void> admit_unit_property(const Policy& policy, const std::string& key,
                                 const std::string& original_json) {
  nlohmann::json json = nlohmann::json::parse(original_json, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("unit") || !json["unit"].is_string() ||
      !json.contains("property") || !json["property"].is_string())
    return make_error("expected {\"unit\", \"property\", \"value\"}");
  const auto unit = json["unit"].get<std::string>();
  const auto property = json["property"].get<std::string>();
  if (key != unit_property_key(unit, property))
    return make_error("its key does not name the unit and property it holds (" + unit + " " + property + ")");
  const auto units = policy_limit_units(policy);
  if (std::find(units.begin(), units.end(), unit) == units.end())
    return make_error(unit +
                      " is not a unit the policy manages ([container_slice] or a slice.* action's unit)");
  if (property == "MemoryHigh" || property == "MemoryMax") {
    const auto& value = json.contains("value") ? json["value"] : nlohmann::json();
    if (value.is_number_unsigned() && value.get<uint64_t>() < kMinRestoredLimit) {
      return make_error(property + "=" + format_bytes(value.get<uint64_t>()) + " is below the " +
                        format_bytes(kMinRestoredLimit) + " guardian ever restores");
    }
  }
  return {};
}

constexpr uint64_t kInfinity = std::numeric_limits<uint64_t>::max();

std::string format_limit(std::optional<uint64_t> bytes) {
  return bytes ? format_bytes(*bytes) : std::string("infinity");
}

Result<std::shared_ptr<UnitManager>> client(const ActionEnv& env) {
  auto client = env.systemd != nullptr ? env.systemd->get() : nullptr;
  if (!client)
    return make_error("no connection to the systemd user manager (guardian runs without a user bus)");
  return client;
}

std::string property_json(const std::string& unit, const std::string& property,
                          std::optional<uint64_t> value) {
  nlohmann::json json{{"unit", unit}, {"property", property}};
  json["value"] = value ? nlohmann::json(*value) : nlohmann::json(nullptr);
  return json.dump();
}

Result<void> set_property(UnitManager& client, const std::string& unit, const std::string& property,
                          std::optional<uint64_t> value, Deadline deadline) {
  return client.set_unit_properties_wait(unit, /*runtime=*/true, {{property, value.value_or(kInfinity)}},
                                         deadline);
}

Result<void> restore_unit_property(const ActionEnv& env, const std::string& key,
                                   const std::string& original_json, Deadline deadline) {
  nlohmann::json json = nlohmann::json::parse(original_json, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("unit") || !json["unit"].is_string() ||
      !json.contains("property") || !json["property"].is_string() || !json.contains("value") ||
      !(json["value"].is_null() || json["value"].is_number_unsigned())) {
    return make_error("state entry " + key + ": expected {\"unit\", \"property\", \"value\": bytes or null}");
  }
  auto connection = client(env);
  if (!connection) return connection.error();
  const std::string unit = json["unit"].get<std::string>();
  const std::string property = json["property"].get<std::string>();
  if (property != "MemoryHigh" && property != "MemoryMax" && property != "MemoryLow") {
    return make_error("state entry " + key + ": guardian never sets " + property +
                      "; refusing to restore it");
  }
  std::optional<uint64_t> value;
  if (json["value"].is_number_unsigned()) value = json["value"].get<uint64_t>();
  return set_property(**connection, unit, property, value, deadline);
}

}  // namespace systemd_actions

namespace {

using namespace systemd_actions;

// The value of a unit property an action found before changing it. The state file keeps the
// user's original under one key per property, saved by whoever changed it first; an action
// that found the key taken (container.slice corrected to the policy's [container_slice], or a
// lower level's action on the same property) must put back what it found — not the user's
// original, which belongs to the change beneath it and would undo that change too.
class FoundValue {
 public:
  // Saves the original (durably, before the change) if nobody holds it yet.
  Result<void> save(const ActionEnv& env, const std::string& unit, const std::string& property,
                    std::optional<uint64_t> value) {
    if (json_) return {};  // applied again before a revert: what it found the first time stands
    key_ = unit_property_key(unit, property);
    json_ = property_json(unit, property, value);
    value_ = value;
    owner_ = false;
    if (!env.state) return {};
    auto saved = env.state->save_original(key_, "systemd.unit-property", *json_);
    if (!saved) return saved.error();
    owner_ = *saved;
    return {};
  }
  // Puts the value back: the saved original when this action saved it (then forgets it), else the
  // value found. false when apply never got as far as saving.
  Result<bool> restore(const ActionEnv& env, Deadline deadline) {
    if (!json_) return false;
    std::string original = *json_;
    if (owner_ && env.state) {
      if (auto saved = env.state->get(key_)) original = saved->original_json;
    }
    auto restored = restore_unit_property(env, key_, original, deadline);
    if (!restored) return restored.error();
    if (owner_ && env.state) {
      auto forgotten = env.state->forget(key_);
      if (!forgotten) return make_error("restored, but " + forgotten.error().message);
    }
    json_.reset();
    return true;
  }
  [[nodiscard]] std::string text() const { return format_limit(value_); }

 private:
  std::string key_;
  std::optional<std::string> json_;
  std::optional<uint64_t> value_;
  bool owner_ = false;
};

uint64_t mem_total_bytes(const HostRoot* host) {
  auto text = read_file(host ? host->path("/proc/meminfo") : std::string("/proc/meminfo"));
  if (!text) return 0;
  // "MemTotal:       31457280 kB"
  const auto at = text->find("MemTotal:");
  if (at == std::string::npos) return 0;
  const auto end = text->find('\n', at);
  std::string_view line =
      std::string_view(*text).substr(at + 9, end == std::string::npos ? std::string::npos : end - at - 9);
  line = trim(line);
  if (line.ends_with("kB")) line = trim(line.substr(0, line.size() - 2));
  auto kib = parse_u64(line);
  return kib ? *kib * 1024 : 0;
}

// "6G" / 6442450944 / "25%" (of RAM) -> absolute; "-20%" / "+10%" -> relative to the current limit.
struct LimitTarget {
  std::optional<SizeSpec> absolute;
  std::optional<double> relative_percent;  // -20 for "-20%"
};

Result<LimitTarget> parse_limit_target(const ParamValue& value) {
  if (const auto* number = std::get_if<int64_t>(&value)) {
    if (*number <= 0) return make_error("a limit must be positive");
    return LimitTarget{SizeSpec{static_cast<uint64_t>(*number), std::nullopt}, std::nullopt};
  }
  const auto* text = std::get_if<std::string>(&value);
  if (!text) return make_error("expected a size (\"6G\", \"25%\" of RAM) or a change (\"-20%\", \"+10%\")");
  std::string_view trimmed = trim(*text);
  if (!trimmed.empty() && (trimmed.front() == '-' || trimmed.front() == '+')) {
    if (!trimmed.ends_with("%")) return make_error("a relative change is a percentage: \"-20%\" or \"+10%\"");
    auto percent = parse_double(trim(trimmed.substr(1, trimmed.size() - 2)));
    if (!percent || *percent <= 0 || *percent >= 100) {
      return make_error("invalid change \"" + *text + "\": expected e.g. \"-20%\" (between 0 and 100)");
    }
    return LimitTarget{std::nullopt, trimmed.front() == '-' ? -*percent : *percent};
  }
  auto size = parse_size(trimmed);
  if (!size) return size.error();
  if (size->bytes && *size->bytes == 0) return make_error("a limit of 0 bytes would stop the slice dead");
  return LimitTarget{*size, std::nullopt};
}

class SliceMemoryAction final : public Action {
 public:
  SliceMemoryAction(std::string type, std::string property, const ActionSpec& spec, LimitTarget target,
                    const ActionEnv& env)
      : type_(std::move(type)),
        property_(std::move(property)),
        unit_(param_string(spec, "unit", "container.slice")),
        target_(target),
        env_(env) {
    if (auto it = spec.params.find("min"); it != spec.params.end()) {
      if (const auto* text = std::get_if<std::string>(&it->second.value)) {
        if (auto size = parse_size(*text)) min_ = *size;
      } else if (const auto* number = std::get_if<int64_t>(&it->second.value)) {
        min_ = SizeSpec{static_cast<uint64_t>(*number), std::nullopt};
      }
    }
  }
  [[nodiscard]] const std::string& type() const override { return type_; }
  [[nodiscard]] std::string describe() const override {
    if (target_.relative_percent) {
      char change[32];
      std::snprintf(change, sizeof change, "%+.1f%%", *target_.relative_percent);
      return "set " + property_ + " of " + unit_ + " " + change + " of its current value";
    }
    return "set " + property_ + " of " + unit_ + " to " +
           (target_.absolute->bytes ? format_bytes(*target_.absolute->bytes)
                                    : std::to_string(*target_.absolute->percent_of_ram) + "% of RAM");
  }

  ActionResult apply(Deadline deadline) override {
    auto connection = client(env_);
    if (!connection) return {ActionResult::Outcome::Failed, connection.error().message};
    auto unit = (*connection)->get_unit_wait(unit_, deadline);
    if (!unit) return {ActionResult::Outcome::Failed, unit.error().message};
    if (unit->load_state != "loaded") {
      return {ActionResult::Outcome::Failed, unit_ + " is not loaded (LoadState=" + unit->load_state + ")"};
    }
    const std::optional<uint64_t> before = property_ == "MemoryHigh" ? unit->memory_high : unit->memory_max;
    const uint64_t ram = mem_total_bytes(env_.host);
    uint64_t next = 0;
    if (target_.relative_percent) {
      // Relative to the current limit; with no limit, relative to what the slice uses now.
      const std::optional<uint64_t> base = before ? before : unit->memory_current;
      if (!base)
        return {ActionResult::Outcome::Failed,
                unit_ + " has no " + property_ + " and no MemoryCurrent to start from"};
      next = static_cast<uint64_t>(static_cast<double>(*base) * (1.0 + *target_.relative_percent / 100.0));
      if (min_) next = std::max(next, min_->resolve(ram));
    } else {
      next = target_.absolute->resolve(ram);
      if (next == 0)
        return {ActionResult::Outcome::Failed, "could not resolve a percentage of RAM (no /proc/meminfo)"};
    }
    if (before && *before == next)
      return {ActionResult::Outcome::Unchanged,
              property_ + " of " + unit_ + " is already " + format_bytes(next)};
    const std::string detail =
        property_ + " of " + unit_ + " " + format_limit(before) + " -> " + format_bytes(next);
    // Lower (or a first limit where none was): the slice would stall more, which must not happen
    // under a watched cgroup oomd is about to judge (decide/slice_limits.h).
    if ((!before || next < *before) && env_.lower_guard != nullptr) {
      if (auto verdict = env_.lower_guard->may_lower(unit_); !verdict.allowed)
        return {ActionResult::Outcome::Unchanged,
                "kept " + format_limit(before) + " instead of " + detail + ": " + verdict.reason};
    }
    if (env_.dry_run) return {ActionResult::Outcome::Unchanged, "dry run: would set " + detail};
    // The original goes to disk before the change, so a crash between the two still restores.
    auto saved = found_.save(env_, unit_, property_, before);
    if (!saved)
      return {ActionResult::Outcome::Failed, "not changing " + unit_ + ": " + saved.error().message};
    auto set = set_property(**connection, unit_, property_, next, deadline);
    if (!set) return {ActionResult::Outcome::Failed, set.error().message};
    return {ActionResult::Outcome::Applied, detail};
  }

  ActionResult revert(Deadline deadline) override {
    if (env_.dry_run)
      return {ActionResult::Outcome::Unchanged, "dry run: would restore " + unit_ + " " + property_};
    auto restored = found_.restore(env_, deadline);
    if (!restored) return {ActionResult::Outcome::Failed, restored.error().message};
    if (!*restored) return {ActionResult::Outcome::Unchanged, "nothing saved for " + unit_ + " " + property_};
    return {ActionResult::Outcome::Reverted, property_ + " of " + unit_ + " restored to " + found_.text()};
  }

 private:
  std::string type_;
  std::string property_;
  std::string unit_;
  LimitTarget target_;
  std::optional<SizeSpec> min_;
  ActionEnv env_;
  FoundValue found_;
};

// slice.balance: turns the balance mode on (the systemd component runs the controller each
// tick) after saving the slice's MemoryHigh; revert turns it off and restores MemoryHigh.
class SliceBalanceAction final : public Action {
 public:
  SliceBalanceAction(const ActionSpec& spec, const ActionEnv& env)
      : unit_(param_string(spec, "unit", "container.slice")), env_(env) {
    auto size = [&](const char* name) -> std::optional<SizeSpec> {
      auto it = spec.params.find(name);
      if (it == spec.params.end()) return std::nullopt;
      if (const auto* text = std::get_if<std::string>(&it->second.value)) {
        if (auto parsed = parse_size(*text)) return *parsed;
      }
      if (const auto* number = std::get_if<int64_t>(&it->second.value))
        return SizeSpec{static_cast<uint64_t>(*number), std::nullopt};
      return std::nullopt;
    };
    floor_ = size("floor");
    ceiling_ = size("ceiling");
  }
  [[nodiscard]] const std::string& type() const override { return type_; }
  [[nodiscard]] std::string describe() const override {
    return "balance MemoryHigh of " + unit_ + " from pressure";
  }

  ActionResult apply(Deadline deadline) override {
    const uint64_t ram = mem_total_bytes(env_.host);
    if (env_.balance == nullptr)
      return {ActionResult::Outcome::Failed, "slice.balance: no controller runs beside this loop"};
    const auto band = env_.balance->default_band();
    BalanceMode mode;
    mode.unit = unit_;
    mode.settings.floor_bytes = floor_ ? floor_->resolve(ram) : (band ? band->first : 0);
    mode.settings.ceiling_bytes = ceiling_ ? ceiling_->resolve(ram) : (band ? band->second : 0);
    if (mode.settings.floor_bytes == 0 || mode.settings.ceiling_bytes <= mode.settings.floor_bytes) {
      return {ActionResult::Outcome::Failed,
              "slice.balance needs floor < ceiling (from the action or [container_slice] in the policy)"};
    }
    if (env_.dry_run) return {ActionResult::Outcome::Unchanged, "dry run: would balance " + unit_};
    auto connection = client(env_);
    if (!connection) return {ActionResult::Outcome::Failed, connection.error().message};
    auto unit = (*connection)->get_unit_wait(unit_, deadline);
    if (!unit) return {ActionResult::Outcome::Failed, unit.error().message};
    auto saved = found_.save(env_, unit_, "MemoryHigh", unit->memory_high);
    if (!saved)
      return {ActionResult::Outcome::Failed, "not balancing " + unit_ + ": " + saved.error().message};
    env_.balance->turn_on(mode);
    return {ActionResult::Outcome::Applied, "balancing MemoryHigh of " + unit_ + " between " +
                                                format_bytes(mode.settings.floor_bytes) + " and " +
                                                format_bytes(mode.settings.ceiling_bytes)};
  }

  ActionResult revert(Deadline deadline) override {
    if (env_.balance != nullptr) env_.balance->turn_off();
    auto restored = found_.restore(env_, deadline);
    if (!restored) return {ActionResult::Outcome::Failed, restored.error().message};
    if (!*restored) return {ActionResult::Outcome::Reverted, "balancing of " + unit_ + " stopped"};
    return {ActionResult::Outcome::Reverted,
            "balancing of " + unit_ + " stopped, MemoryHigh restored to " + found_.text()};
  }

 private:
  std::string type_ = "slice.balance";
  std::string unit_;
  std::optional<SizeSpec> floor_;
  std::optional<SizeSpec> ceiling_;
  ActionEnv env_;
  FoundValue found_;
};

// container.slice held at the policy's [container_slice] (systemd_actions.h).
class SliceCorrectionAction final : public Action {
 public:
  SliceCorrectionAction(const ActionEnv& env, std::string unit, std::string property,
                        std::optional<uint64_t> found, uint64_t wanted, const std::string& why)
      : env_(env),
        unit_(std::move(unit)),
        property_(std::move(property)),
        found_(found),
        wanted_(wanted),
        detail_(property_ + " of " + unit_ + " " + format_limit(found_) + " -> " + format_bytes(wanted_) +
                " (the policy's [container_slice]" + (why.empty() ? "" : ": " + why) + ")") {}
  [[nodiscard]] const std::string& type() const override { return type_; }
  [[nodiscard]] std::string describe() const override { return "correct " + detail_; }

  ActionResult apply(Deadline deadline) override {
    const std::string key = unit_property_key(unit_, property_);
    if (env_.state) {
      // The original goes to disk before the change, so a crash between the two still restores.
      auto saved =
          env_.state->save_original(key, "systemd.unit-property", property_json(unit_, property_, found_));
      if (!saved)
        return {ActionResult::Outcome::Failed, "not correcting " + unit_ + ": " + saved.error().message};
    }
    auto connection = client(env_);
    if (!connection)
      return {ActionResult::Outcome::Failed,
              "could not correct " + detail_ + ": " + connection.error().message};
    auto set = set_property(**connection, unit_, property_, wanted_, deadline);
    if (!set)
      return {ActionResult::Outcome::Failed, "could not correct " + detail_ + ": " + set.error().message};
    return {ActionResult::Outcome::Applied, "corrected " + detail_};
  }

  ActionResult revert(Deadline deadline) override {
    const std::string key = unit_property_key(unit_, property_);
    auto saved = env_.state ? env_.state->get(key) : std::nullopt;
    if (!saved) return {ActionResult::Outcome::Unchanged, "nothing saved for " + unit_ + " " + property_};
    auto restored = restore_unit_property(env_, key, saved->original_json, deadline);
    if (!restored) return {ActionResult::Outcome::Failed, restored.error().message};
    if (auto forgotten = env_.state->forget(key); !forgotten)
      return {ActionResult::Outcome::Failed, "restored, but " + forgotten.error().message};
    return {ActionResult::Outcome::Reverted,
            property_ + " of " + unit_ + " back to the value saved before the correction"};
  }

 private:
  std::string type_ = "container-slice.correct";
  ActionEnv env_;
  std::string unit_;
  std::string property_;
  std::optional<uint64_t> found_;
  uint64_t wanted_;
  std::string detail_;
};

// One step of slice.balance's controller (systemd_actions.h).
class BalanceStepAction final : public Action {
 public:
  BalanceStepAction(const ActionEnv& env, std::string unit, uint64_t limit, std::string detail)
      : env_(env), unit_(std::move(unit)), limit_(limit), detail_(std::move(detail)) {}
  [[nodiscard]] const std::string& type() const override { return type_; }
  [[nodiscard]] std::string describe() const override {
    return "set MemoryHigh of " + unit_ + " to " + format_bytes(limit_) + " (slice.balance)";
  }

  ActionResult apply(Deadline deadline) override {
    auto connection = client(env_);
    if (!connection)
      return {ActionResult::Outcome::Failed, detail_ + " failed: " + connection.error().message};
    auto set = set_property(**connection, unit_, "MemoryHigh", limit_, deadline);
    if (!set) return {ActionResult::Outcome::Failed, detail_ + " failed: " + set.error().message};
    return {ActionResult::Outcome::Applied, detail_};
  }
  ActionResult revert(Deadline /*deadline*/) override {
    return {ActionResult::Outcome::Unchanged, "slice.balance's revert restores MemoryHigh"};
  }

 private:
  std::string type_ = "slice.balance";
  ActionEnv env_;
  std::string unit_;
  uint64_t limit_;
  std::string detail_;
};

std::vector<std::pair<std::string, SourcePos>> validate_unit_name(const ActionSpec& spec, const char* param,
                                                                  std::string_view required_suffix) {
  std::vector<std::pair<std::string, SourcePos>> problems;
  auto it = spec.params.find(param);
  if (it == spec.params.end()) return problems;
  const auto* text = std::get_if<std::string>(&it->second.value);
  if (!text) return problems;
  const bool has_type = text->find('.') != std::string::npos && text->find('/') == std::string::npos;
  if (!has_type || (!required_suffix.empty() && !text->ends_with(required_suffix))) {
    problems.emplace_back(
        "argument \"" + std::string(param) + "\" of action \"" + spec.type + "\" must be a unit name" +
            (required_suffix.empty() ? std::string(" like \"immich-ml.service\"")
                                     : " ending in \"" + std::string(required_suffix) + "\"") +
            ", got \"" + *text + "\"",
        it->second.pos);
  }
  return problems;
}

// A slice a limit is lowered on gives back what it pushed out when the limit is restored (one
// raised frees nothing: its fall is 0).
std::optional<ReliefTarget> slice_relief(const ActionSpec& spec, const Policy& /*policy*/) {
  return ReliefTarget{ReliefTarget::By::Unit, param_string(spec, "unit", "container.slice")};
}

void add_slice_memory(ActionRegistry& registry, const std::string& type, const std::string& property) {
  registry.add(
      type,
      {[type](const ActionSpec& spec) {
         auto problems = check_params(spec, {{"value", ParamRule::Type::String, true},
                                             {"unit", ParamRule::Type::String, false},
                                             {"min", ParamRule::Type::Size, false}});
         // check_params wants a string; integers of bytes are fine too.
         std::erase_if(problems, [&](const auto& problem) {
           auto it = spec.params.find("value");
           return it != spec.params.end() && std::holds_alternative<int64_t>(it->second.value) &&
                  problem.first.find("\"value\"") != std::string::npos;
         });
         if (auto it = spec.params.find("value"); it != spec.params.end()) {
           if (std::holds_alternative<std::string>(it->second.value) ||
               std::holds_alternative<int64_t>(it->second.value)) {
             auto target = parse_limit_target(it->second.value);
             if (!target)
               problems.emplace_back(
                   "argument \"value\" of action \"" + type + "\": " + target.error().message,
                   it->second.pos);
           }
         }
         auto unit_problems = validate_unit_name(spec, "unit", ".slice");
         problems.insert(problems.end(), unit_problems.begin(), unit_problems.end());
         return problems;
       },
       [type, property](const ActionSpec& spec, const ActionEnv& env) -> Result<std::unique_ptr<Action>> {
         auto it = spec.params.find("value");
         if (it == spec.params.end()) return make_error("action \"" + type + "\" needs argument \"value\"");
         auto target = parse_limit_target(it->second.value);
         if (!target) return target.error();
         return std::unique_ptr<Action>(
             std::make_unique<SliceMemoryAction>(type, property, spec, *target, env));
       },
       "set " + property +
           " of container.slice (runtime): \"6G\", \"25%\" of RAM, or \"-20%\" of the current value",
       &slice_relief});
}

}  // namespace

namespace systemd_actions {
void register_unit_actions(ActionRegistry& registry);  // unit_actions.cpp
std::vector<std::pair<std::string, SourcePos>> check_unit_name(const ActionSpec& spec, const char* param,
                                                               std::string_view required_suffix) {
  return validate_unit_name(spec, param, required_suffix);
}
}  // namespace systemd_actions

std::shared_ptr<Action> make_slice_correction(const ActionEnv& env, const std::string& unit,
                                              const std::string& property, std::optional<uint64_t> found,
                                              uint64_t wanted, const std::string& why) {
  return std::make_shared<SliceCorrectionAction>(env, unit, property, found, wanted, why);
}

std::shared_ptr<Action> make_balance_step(const ActionEnv& env, const std::string& unit, uint64_t limit,
                                          std::string detail) {
  return std::make_shared<BalanceStepAction>(env, unit, limit, std::move(detail));
}

void register_systemd_actions(ActionRegistry& registry) {
  add_slice_memory(registry, "slice.set-memory-high", "MemoryHigh");
  add_slice_memory(registry, "slice.set-memory-max", "MemoryMax");
  registry.add("slice.balance",
               {[](const ActionSpec& spec) {
                  auto problems = check_params(spec, {{"unit", ParamRule::Type::String, false},
                                                      {"floor", ParamRule::Type::Size, false},
                                                      {"ceiling", ParamRule::Type::Size, false}});
                  auto unit_problems = validate_unit_name(spec, "unit", ".slice");
                  problems.insert(problems.end(), unit_problems.begin(), unit_problems.end());
                  return problems;
                },
                [](const ActionSpec& spec, const ActionEnv& env) -> Result<std::unique_ptr<Action>> {
                  return std::unique_ptr<Action>(std::make_unique<SliceBalanceAction>(spec, env));
                },
                "move MemoryHigh of container.slice between floor and ceiling from pressure (senpai-like)",
                &slice_relief});
  registry.add_restorer("systemd.unit-property", &restore_unit_property, &admit_unit_property);
  register_unit_actions(registry);
}

}  // namespace guardian
