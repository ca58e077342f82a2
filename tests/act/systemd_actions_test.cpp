// The systemd actions against the org.freedesktop.systemd1 double on a private dbus-daemon, with
// a real StateStore file. Verified against the double only; the VM test bed checks real systemd.
#include "act/systemd_actions.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "act/action_runner.h"
#include "act/state_store.h"
#include "act/unit_manager.h"
#include "bus/systemd_client.h"
#include "support/dbus_daemon.h"
#include "support/scratch_dir.h"
#include "support/systemd_double.h"
#include "support/systemd_fixtures.h"

namespace guardian {
namespace {

using namespace std::chrono_literals;
constexpr uint64_t GiB = 1ULL << 30;

Deadline soon() { return std::chrono::steady_clock::now() + 3s; }

// The incident machine's slice (MemoryHigh=8G, MemoryMax=10G) with immich-ml as the low-priority
// container to freeze (support/systemd_fixtures.h).
std::vector<UnitProperties> units() {
  return {test::incident_container_slice(), test::incident_immich_ml_service()};
}

ActionSpec spec(const std::string& type, std::map<std::string, ParamValue> params) {
  ActionSpec out;
  out.type = type;
  out.pos = {"policy.toml", 12, 3};
  uint32_t column = 5;
  for (auto& [name, value] : params)
    out.params[name] = Param{std::move(value), {"policy.toml", 12, column++}};
  return out;
}

class SystemdActionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(daemon_.running()) << daemon_.error();
    systemd_ = std::make_unique<test::SystemdManagerDouble>(daemon_.address(), units());
    ASSERT_TRUE(systemd_->ready());
    user_manager_.plug(std::make_shared<bus::SystemdClient>(bus::BusAddress::at(daemon_.address())));
    state_ = std::make_unique<StateStore>(dir_ / "state.json");
    ASSERT_TRUE(state_->load().ok());
    env_.state = state_.get();
    env_.systemd = &user_manager_;
    env_.balance = &balance_;
  }
  void TearDown() override { user_manager_.unplug(); }
  std::unique_ptr<Action> make(const ActionSpec& action) {
    const auto* entry = builtin_actions().find(action.type);
    EXPECT_NE(entry, nullptr) << action.type;
    if (!entry) return nullptr;
    EXPECT_TRUE(entry->validate(action).empty());
    auto created = entry->create(action, env_);
    EXPECT_TRUE(created.ok());
    return created.ok() ? std::move(*created) : nullptr;
  }

  test::DbusDaemon daemon_;
  std::unique_ptr<test::SystemdManagerDouble> systemd_;
  test::ScratchDir dir_{"state"};
  std::unique_ptr<StateStore> state_;
  UnitManagerSlot user_manager_;  // the daemon's, here the test's
  BalanceSwitch balance_;
  ActionEnv env_;
};

TEST_F(SystemdActionsTest, SetMemoryHighSavesTheOriginalFirstAndRevertRestoresIt) {
  auto action = make(spec("slice.set-memory-high", {{"value", std::string("6G")}}));
  ASSERT_TRUE(action);
  auto applied = action->apply(soon());
  ASSERT_EQ(applied.outcome, ActionResult::Outcome::Applied) << applied.detail;
  EXPECT_EQ(applied.detail, "MemoryHigh of container.slice 8.00 GiB -> 6.00 GiB");
  EXPECT_EQ(systemd_->unit("container.slice").memory_high, 6 * GiB);
  auto calls = systemd_->set_calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_TRUE(calls[0].runtime);
  EXPECT_EQ(calls[0].properties[0],
            std::make_tuple(std::string("MemoryHigh"), std::string("t"), std::to_string(6 * GiB)));
  auto saved = state_->get(unit_property_key("container.slice", "MemoryHigh"));
  ASSERT_TRUE(saved.has_value());
  EXPECT_EQ(saved->kind, "systemd.unit-property");
  EXPECT_NE(saved->original_json.find(std::to_string(8 * GiB)), std::string::npos) << saved->original_json;

  auto reverted = action->revert(soon());
  ASSERT_EQ(reverted.outcome, ActionResult::Outcome::Reverted) << reverted.detail;
  EXPECT_EQ(systemd_->unit("container.slice").memory_high, 8 * GiB);
  EXPECT_FALSE(state_->get(unit_property_key("container.slice", "MemoryHigh")).has_value());
}

TEST_F(SystemdActionsTest, RelativeChangeIsOfTheCurrentLimitAndReapplyKeepsTheFirstOriginal) {
  auto action = make(spec("slice.set-memory-max", {{"value", std::string("-20%")}}));
  ASSERT_TRUE(action);
  ASSERT_EQ(action->apply(soon()).outcome, ActionResult::Outcome::Applied);
  EXPECT_EQ(systemd_->unit("container.slice").memory_max, static_cast<uint64_t>(10.0 * GiB * 0.8));
  // Applying again lowers further but must not overwrite the saved original with guardian's value.
  ASSERT_EQ(action->apply(soon()).outcome, ActionResult::Outcome::Applied);
  EXPECT_EQ(systemd_->unit("container.slice").memory_max,
            static_cast<uint64_t>(static_cast<double>(static_cast<uint64_t>(10.0 * GiB * 0.8)) * 0.8));
  ASSERT_EQ(action->revert(soon()).outcome, ActionResult::Outcome::Reverted);
  EXPECT_EQ(systemd_->unit("container.slice").memory_max, 10 * GiB);
}

TEST_F(SystemdActionsTest, ARuntimeChangeIsRestoredAfterKill9AndARestart) {
  // guardian 1 applies and "dies by SIGKILL": no revert runs, only the state file remains.
  {
    auto action = make(spec("slice.set-memory-high", {{"value", std::string("5G")}}));
    ASSERT_EQ(action->apply(soon()).outcome, ActionResult::Outcome::Applied);
    ASSERT_EQ(systemd_->unit("container.slice").memory_high, 5 * GiB);
    // Dropping the action runs no revert (only revert() would undo the change), like SIGKILL.
    action.reset();
    state_.reset();
  }
  // guardian 2 starts: loads the file and runs the restorer for every entry, then forgets it.
  StateStore restarted(dir_ / "state.json");
  ASSERT_TRUE(restarted.load().ok());
  auto entries = restarted.entries();
  ASSERT_EQ(entries.size(), 1u);
  for (const auto& [key, saved] : entries) {
    const Restorer* restorer = builtin_actions().restorer(saved.kind);
    ASSERT_NE(restorer, nullptr) << saved.kind;
    auto restored = (*restorer)(env_, key, saved.original_json, soon());
    ASSERT_TRUE(restored.ok()) << restored.error().message;
    ASSERT_TRUE(restarted.forget(key).ok());
  }
  EXPECT_EQ(systemd_->unit("container.slice").memory_high, 8 * GiB);
  auto calls = systemd_->set_calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(std::get<2>(calls[1].properties[0]), std::to_string(8 * GiB));
}

// Issue 16, item 4: the restore at start acted on any unit a (forged) state file named:
// FreezeUnit gnome-shell.service and SetUnitProperties app.slice MemoryMax=4096 were attempted.
// Only units the policy manages are touched now, "frozen" only for a low-priority one, and no
// limit below the floor; every other entry is told by name and kept.
TEST_F(SystemdActionsTest, ARestoreAtStartActsOnlyOnWhatThePolicyManages) {
  auto freeze = [](const std::string& unit, const std::string& state) {
    return StateStore::Change{unit_freeze_key(unit), "systemd.unit-freeze",
                              R"({"unit":")" + unit + R"(","freezer_state":")" + state + R"("})"};
  };
  auto limit = [](const std::string& unit, const std::string& property, uint64_t value) {
    return StateStore::Change{unit_property_key(unit, property), "systemd.unit-property",
                              R"({"unit":")" + unit + R"(","property":")" + property + R"(","value":)" +
                                  std::to_string(value) + "}"};
  };
  // A key that names another unit than the entry holds: the entry is not what its key says.
  StateStore::Change mismatched = freeze("immich-ml.service", "frozen");
  mismatched.key = unit_freeze_key("plex.service");
  ASSERT_TRUE(
      state_
          ->commit({freeze("gnome-shell.service", "frozen"), freeze("jellyfin.service", "running"),
                    limit("app.slice", "MemoryMax", 4096), limit("container.slice", "MemoryMax", 4096),
                    limit("container.slice", "MemoryHigh", 8 * GiB), freeze("immich-ml.service", "frozen"),
                    mismatched})
          .ok());
  Policy policy;  // [container_slice] unit = container.slice; [containers] low_priority = immich-ml
  policy.containers.low_priority_units = {"immich-ml.service"};
  std::vector<Event> told;
  ActionRunner runner(env_, [&](const Event& event) { told.push_back(event); });
  runner.restore_saved(builtin_actions(), policy);
  runner.finish();

  const auto calls = systemd_->calls();
  for (const auto& call : calls) {
    EXPECT_EQ(call.find("gnome-shell"), std::string::npos) << call;
    EXPECT_EQ(call.find("app.slice"), std::string::npos) << call;
    EXPECT_EQ(call.find("jellyfin.service"), std::string::npos) << call;
  }
  EXPECT_EQ(systemd_->unit("immich-ml.service").freezer_state, "frozen");  // low priority: restored
  auto sets = systemd_->set_calls();
  ASSERT_EQ(sets.size(), 1u);  // MemoryHigh=8G; never MemoryMax=4096
  EXPECT_EQ(sets[0].unit, "container.slice");
  EXPECT_EQ(std::get<0>(sets[0].properties[0]), "MemoryHigh");

  std::map<std::string, std::string> results;
  std::string messages;
  for (const auto& event : told) {
    for (const auto& [name, value] : event.fields)
      if (name == "KEY")
        results[value] = [&] {
          for (const auto& [n, v] : event.fields)
            if (n == "RESULT") return v;
          return std::string();
        }();
    messages += event.message + "\n";
  }
  EXPECT_EQ(results[unit_freeze_key("immich-ml.service")], "restored");
  EXPECT_EQ(results[unit_property_key("container.slice", "MemoryHigh")], "restored");
  EXPECT_EQ(results[unit_freeze_key("gnome-shell.service")], "refused");
  EXPECT_EQ(results[unit_freeze_key("jellyfin.service")], "refused");
  EXPECT_EQ(results[unit_property_key("app.slice", "MemoryMax")], "refused");
  EXPECT_EQ(results[unit_property_key("container.slice", "MemoryMax")], "refused");
  EXPECT_EQ(results[unit_freeze_key("plex.service")], "refused");
  EXPECT_NE(messages.find("its key does not name the unit it holds (immich-ml.service)"), std::string::npos)
      << messages;
  EXPECT_NE(messages.find("saved entry systemd.unit-freeze/gnome-shell.service not acted on: would freeze "
                          "gnome-shell.service, which the policy does not list as low priority"),
            std::string::npos)
      << messages;
  EXPECT_NE(messages.find("MemoryMax=4.00 KiB is below the 256.00 MiB guardian ever restores"),
            std::string::npos)
      << messages;
  EXPECT_NE(messages.find("app.slice is not a unit the policy manages"), std::string::npos) << messages;
  // Refused entries stay in the state file, untouched.
  EXPECT_TRUE(state_->get(unit_freeze_key("gnome-shell.service")).has_value());
  EXPECT_TRUE(state_->get(unit_property_key("app.slice", "MemoryMax")).has_value());
  EXPECT_FALSE(state_->get(unit_freeze_key("immich-ml.service")).has_value());
}

TEST_F(SystemdActionsTest, FreezeAndThawAreReversible) {
  auto action = make(spec("unit.freeze", {{"unit", std::string("immich-ml.service")}}));
  ASSERT_TRUE(action);
  auto applied = action->apply(soon());
  ASSERT_EQ(applied.outcome, ActionResult::Outcome::Applied) << applied.detail;
  EXPECT_EQ(systemd_->unit("immich-ml.service").freezer_state, "frozen");
  EXPECT_TRUE(state_->get(unit_freeze_key("immich-ml.service")).has_value());
  EXPECT_EQ(action->apply(soon()).outcome, ActionResult::Outcome::Unchanged);
  ASSERT_EQ(action->revert(soon()).outcome, ActionResult::Outcome::Reverted);
  EXPECT_EQ(systemd_->unit("immich-ml.service").freezer_state, "running");
  EXPECT_FALSE(state_->get(unit_freeze_key("immich-ml.service")).has_value());
}

TEST_F(SystemdActionsTest, FailuresSayWhatAndKeepNothingHalfDone) {
  systemd_->fail_next_set("org.freedesktop.DBus.Error.AccessDenied");
  auto action = make(spec("slice.set-memory-high", {{"value", std::string("6G")}}));
  auto applied = action->apply(soon());
  EXPECT_EQ(applied.outcome, ActionResult::Outcome::Failed);
  EXPECT_NE(applied.detail.find("AccessDenied"), std::string::npos) << applied.detail;
  EXPECT_EQ(systemd_->unit("container.slice").memory_high, 8 * GiB);

  auto missing = make(spec("unit.freeze", {{"unit", std::string("loki.service")}}));
  auto frozen = missing->apply(soon());
  EXPECT_EQ(frozen.outcome, ActionResult::Outcome::Failed);
  EXPECT_NE(frozen.detail.find("loki.service"), std::string::npos) << frozen.detail;

  user_manager_.unplug();
  auto without_bus = action->apply(soon());
  EXPECT_EQ(without_bus.outcome, ActionResult::Outcome::Failed);
  EXPECT_NE(without_bus.detail.find("user manager"), std::string::npos) << without_bus.detail;
}

TEST_F(SystemdActionsTest, BalanceSavesMemoryHighTurnsTheModeOnAndRevertRestores) {
  auto action = make(spec("slice.balance", {{"floor", std::string("4G")}, {"ceiling", std::string("10G")}}));
  ASSERT_TRUE(action);
  ASSERT_EQ(action->apply(soon()).outcome, ActionResult::Outcome::Applied);
  auto mode = balance_.mode();
  ASSERT_TRUE(mode.has_value());
  EXPECT_EQ(mode->unit, "container.slice");
  EXPECT_EQ(mode->settings.floor_bytes, 4 * GiB);
  EXPECT_EQ(mode->settings.ceiling_bytes, 10 * GiB);
  // The component's controller moves the limit meanwhile.
  systemd_->change_property("container.slice", "MemoryHigh", 5 * GiB);
  ASSERT_EQ(action->revert(soon()).outcome, ActionResult::Outcome::Reverted);
  EXPECT_FALSE(balance_.mode().has_value());
  EXPECT_EQ(systemd_->unit("container.slice").memory_high, 8 * GiB);
}

TEST_F(SystemdActionsTest, OnTopOfAnEarlierChangeRevertPutsBackWhatTheActionFound) {
  // guardian's systemd component corrected container.slice to the policy's [container_slice]
  // (8G -> 6G) and holds the user's 8G in the state file until guardian stops. A level's actions
  // then change the same property: reverting them must return to 6G — the user's 8G would undo
  // the correction (the VM test bed saw exactly that: the next pressure ramp met no limit at all).
  const std::string key = unit_property_key("container.slice", "MemoryHigh");
  ASSERT_TRUE(state_
                  ->save_original(key, "systemd.unit-property",
                                  R"({"property":"MemoryHigh","unit":"container.slice","value":8589934592})")
                  .ok());
  systemd_->change_property("container.slice", "MemoryHigh", 6 * GiB);

  auto balance = make(spec("slice.balance", {{"floor", std::string("4G")}, {"ceiling", std::string("10G")}}));
  auto raise = make(spec("slice.set-memory-high", {{"value", std::string("9G")}}));
  ASSERT_EQ(balance->apply(soon()).outcome, ActionResult::Outcome::Applied);
  systemd_->change_property("container.slice", "MemoryHigh", 7 * GiB);  // the controller moved it
  ASSERT_EQ(raise->apply(soon()).outcome, ActionResult::Outcome::Applied);
  EXPECT_EQ(systemd_->unit("container.slice").memory_high, 9 * GiB);

  // Levels unwind top down: each puts back what it found, the user's original stays saved.
  auto lowered = raise->revert(soon());
  ASSERT_EQ(lowered.outcome, ActionResult::Outcome::Reverted) << lowered.detail;
  EXPECT_EQ(lowered.detail, "MemoryHigh of container.slice restored to 7.00 GiB");
  EXPECT_EQ(systemd_->unit("container.slice").memory_high, 7 * GiB);
  auto stopped = balance->revert(soon());
  ASSERT_EQ(stopped.outcome, ActionResult::Outcome::Reverted) << stopped.detail;
  EXPECT_EQ(systemd_->unit("container.slice").memory_high, 6 * GiB);
  auto saved = state_->get(key);
  ASSERT_TRUE(saved.has_value());
  EXPECT_NE(saved->original_json.find("8589934592"), std::string::npos) << saved->original_json;

  // A revert twice changes nothing the second time.
  EXPECT_EQ(balance->revert(soon()).outcome, ActionResult::Outcome::Reverted);
  EXPECT_EQ(systemd_->unit("container.slice").memory_high, 6 * GiB);
}

TEST_F(SystemdActionsTest, ATightenWaitsWhileTheWatchedCgroupAboveTheSliceClimbs) {
  // Debian 12's rule: oomd watches user@1000.service at 50%. Its full avg10 at 22% (44% of the
  // limit): lowering container.slice would add stall under it, so the action keeps the value.
  const std::string manager = "/user.slice/user-1000.slice/user@1000.service";
  std::vector<OomdCgroupState> states(1);
  states[0].rule = {manager, "user@1000.service", 50.0, 20s,
                    "user@.service.d/10-oomd-user-service-defaults.conf"};
  states[0].present = true;
  states[0].full_avg10 = 22.0;
  states[0].stall_share_percent = 30.0;
  LowerGuardBoard board;
  board.update(manager, states);
  env_.lower_guard = &board;
  auto tighten = make(spec("slice.set-memory-high", {{"value", std::string("-20%")}}));
  ASSERT_TRUE(tighten);
  auto kept = tighten->apply(soon());
  EXPECT_EQ(kept.outcome, ActionResult::Outcome::Unchanged) << kept.detail;
  EXPECT_NE(kept.detail.find("not lowering: systemd-oomd watches " + manager), std::string::npos)
      << kept.detail;
  EXPECT_EQ(systemd_->unit("container.slice").memory_high, 8 * GiB);
  EXPECT_TRUE(systemd_->set_calls().empty());
  EXPECT_FALSE(state_->get(unit_property_key("container.slice", "MemoryHigh")).has_value());
  // A raise is never held back.
  auto raise = make(spec("slice.set-memory-high", {{"value", std::string("+10%")}}));
  ASSERT_TRUE(raise);
  EXPECT_EQ(raise->apply(soon()).outcome, ActionResult::Outcome::Applied);
  ASSERT_EQ(raise->revert(soon()).outcome, ActionResult::Outcome::Reverted);
  // Calm again: the tighten goes through.
  states[0].full_avg10 = 1.0;
  states[0].stall_share_percent = 0.5;
  board.update(manager, states);
  auto later = make(spec("slice.set-memory-high", {{"value", std::string("-20%")}}));
  ASSERT_TRUE(later);
  EXPECT_EQ(later->apply(soon()).outcome, ActionResult::Outcome::Applied);
  EXPECT_LT(*systemd_->unit("container.slice").memory_high, 8 * GiB);
  ASSERT_EQ(later->revert(soon()).outcome, ActionResult::Outcome::Reverted);
}

TEST(SystemdActionsValidation, BadArgumentsAreReportedAtTheArgument) {
  const auto& registry = builtin_actions();
  auto problems = registry.find("slice.set-memory-high")
                      ->validate(spec("slice.set-memory-high", {{"value", std::string("-120%")}}));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].first.find("-120%"), std::string::npos) << problems[0].first;
  EXPECT_EQ(problems[0].second.line, 12u);

  problems = registry.find("slice.set-memory-max")->validate(spec("slice.set-memory-max", {}));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].first.find("needs argument \"value\""), std::string::npos);

  problems = registry.find("slice.set-memory-high")
                 ->validate(spec("slice.set-memory-high",
                                 {{"value", std::string("6G")}, {"unit", std::string("jellyfin.service")}}));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].first.find(".slice"), std::string::npos);

  EXPECT_TRUE(registry.find("slice.set-memory-high")
                  ->validate(spec("slice.set-memory-high", {{"value", int64_t{6442450944}}}))
                  .empty());
  EXPECT_TRUE(registry.find("slice.set-memory-high")
                  ->validate(spec("slice.set-memory-high", {{"value", std::string("25%")}}))
                  .empty());

  problems = registry.find("unit.freeze")->validate(spec("unit.freeze", {{"unit", std::string("immich")}}));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].first.find("unit name"), std::string::npos);

  auto restorer = registry.restorer("systemd.unit-property");
  ASSERT_NE(restorer, nullptr);
  const ActionEnv env;
  auto refused =
      (*restorer)(env, "k", R"({"unit":"container.slice","property":"CPUQuota","value":1})", soon());
  EXPECT_FALSE(refused.ok());
  auto garbage = (*restorer)(env, "k", "{not json", soon());
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().message.find("state entry k"), std::string::npos);
}

}  // namespace
}  // namespace guardian
