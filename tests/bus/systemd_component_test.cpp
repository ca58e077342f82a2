// The systemd component end to end on a private dbus-daemon: container.slice corrected to the
// policy and restored at stop, oomd's Killed signal told once with guardian's context, units
// appearing trigger a rescan, and oomd's live list that dropped the user manager (#43174) is
// told and handed to the loop. Doubles only; the VM test bed checks real systemd.
#include "bus/systemd_component.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <filesystem>
#include <functional>

#include "act/action_runner.h"
#include "act/state_store.h"
#include "act/systemd_actions.h"
#include "act/unit_manager.h"
#include "support/dbus_daemon.h"
#include "support/scratch_dir.h"
#include "support/systemd_double.h"
#include "support/systemd_fixtures.h"

namespace guardian {
namespace {

using namespace std::chrono_literals;
constexpr uint64_t GiB = 1ULL << 30;
const std::string kManager = "/user.slice/user-1000.slice/user@1000.service";

class FakeLoop : public DaemonLoop {
 public:
  void request_reload() override {}
  void request_rescan() override { ++rescans; }
  void request_tick() override { ++ticks_requested; }
  void tell(const Event& event) override { events.push_back(event); }
  void note_oomd_kill(MonoTime) override { ++oomd_kills; }
  [[nodiscard]] std::string explain() const override { return "test"; }
  void use_live_oomd_rules(const std::vector<WatchedCgroup>& rules) override { live_rules = rules; }

  std::vector<Event> events;
  std::vector<WatchedCgroup> live_rules;
  int rescans = 0;
  int ticks_requested = 0;
  int oomd_kills = 0;

  bool has(EventType type, const std::string& text) const {
    for (const auto& event : events) {
      if (event.type == type && event.message.find(text) != std::string::npos) return true;
    }
    return false;
  }
};

// Runs the component's fds and the action path's like the daemon loop would, until `done` or 3 s.
bool pump(bus::SystemdComponent& component, ActionRunner& actions, const std::function<bool()>& done,
          std::chrono::milliseconds limit = 3000ms) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    auto fds = component.fds();
    std::vector<pollfd> polled;
    for (int fd : fds) polled.push_back({fd, POLLIN, 0});
    polled.push_back({actions.fd(), POLLIN, 0});
    if (::poll(polled.data(), polled.size(), 50) > 0) {
      for (const auto& p : polled) {
        if (!(p.revents & POLLIN)) continue;
        if (p.fd == actions.fd())
          actions.collect();
        else
          component.on_fd_ready(p.fd);
      }
    }
  }
  return done();
}

// What each test of the component's corrections stands up: a private bus with systemd's double
// (container.slice as `slice`) and oomd's (Debian 12's dump, without the user manager: #43174),
// the state file in a scratch directory, what the daemon owns for act (the slot the component
// plugs its client into, slice.balance's switch, the action runner telling the fake loop), and
// the component's options on that bus, the journal not followed. ready() says whether all came up.
struct ComponentBed {
  explicit ComponentBed(const UnitProperties& slice)
      : systemd(daemon.address(), {slice}), oomd(daemon.address(), test::kOomdDump252WithoutUserManager) {
    loaded = state.load().ok();
    options.user_bus = bus::BusAddress::at(daemon.address());
    options.system_bus = bus::BusAddress::at(daemon.address());
    options.follow_journal = false;
  }
  [[nodiscard]] bool ready() const { return daemon.running() && systemd.ready() && oomd.ready() && loaded; }
  [[nodiscard]] std::string error() const {
    return daemon.running() ? (loaded ? "a double did not come up" : "the state file did not load")
                            : daemon.error();
  }

  test::DbusDaemon daemon;
  test::SystemdManagerDouble systemd;
  test::OomdDouble oomd;
  test::ScratchDir dir{"state"};
  StateStore state{dir / "state.json"};
  bool loaded = false;
  FakeLoop loop;
  UnitManagerSlot user_manager;
  BalanceSwitch balance;
  ActionEnv env = [this] {
    ActionEnv made;
    made.state = &state;
    made.systemd = &user_manager;
    made.balance = &balance;
    return made;
  }();
  ActionRunner runner{env, [this](const Event& event) { loop.tell(event); }};
  bus::SystemdComponentOptions options;
};

TEST(SystemdComponent, KeepsTheSliceHearsKillsAndTrustsOomdsLiveList) {
  UnitProperties slice = test::incident_container_slice();
  slice.memory_high = 6 * GiB;  // someone lowered it; the policy wants 8G
  ComponentBed bed(slice);
  ASSERT_TRUE(bed.ready()) << bed.error();
  auto& systemd = bed.systemd;
  auto& oomd = bed.oomd;
  auto& state = bed.state;
  auto& loop = bed.loop;
  auto& runner = bed.runner;
  bus::SystemdComponent component(bed.options, runner);
  component.set_wanted_slice({8 * GiB, 10 * GiB});
  component.start(loop);

  // container.slice corrected at run time through the action path, the original saved first.
  ASSERT_TRUE(
      pump(component, runner, [&] { return loop.has(EventType::ActionApplied, "corrected MemoryHigh"); }));
  EXPECT_EQ(systemd.unit("container.slice").memory_high, 8 * GiB);
  auto saved = state.get("systemd.unit-property/container.slice/MemoryHigh");
  ASSERT_TRUE(saved.has_value());
  EXPECT_NE(saved->original_json.find(std::to_string(6 * GiB)), std::string::npos);

  // A tick with the drop-in reading (Debian's user@.service at 50%) and guardian's state.
  Snapshot snapshot;
  snapshot.mono = std::chrono::steady_clock::now();
  HostLayout layout;
  layout.user_manager_path = kManager;
  std::vector<OomdCgroupState> model(1);
  model[0].rule = {kManager, "user@1000.service", 50.0, 20s,
                   "user@.service.d/10-oomd-user-service-defaults.conf"};
  const std::vector<WatchedCgroup> dropin_rules = {model[0].rule};
  TickView tick;
  tick.snapshot = &snapshot;
  tick.layout = &layout;
  tick.oomd = &model;
  tick.oomd_dropin_rules = &dropin_rules;
  tick.level_name = "critical";
  tick.active_actions = {"critical/slice.set-memory-high"};
  ASSERT_TRUE(pump(component, runner, [&] { return !loop.live_rules.empty(); }));  // the dump at connect
  component.on_tick(tick);
  ASSERT_TRUE(pump(component, runner, [&] { return loop.has(EventType::SenseProblem, "#43174"); }));
  ASSERT_EQ(loop.live_rules.size(), 1u);
  EXPECT_EQ(loop.live_rules[0].path, kManager + "/app.slice");
  EXPECT_TRUE(loop.has(EventType::SenseProblem, "#43174"));

  // oomd kills Jellyfin: one event with the context, the model's pause fed.
  for (int attempt = 0; attempt < 20 && loop.oomd_kills == 0; ++attempt) {
    oomd.emit_killed(kManager + "/app.slice/jellyfin.service", "memory-pressure");
    pump(component, runner, [&] { return loop.oomd_kills > 0; });
  }
  ASSERT_EQ(loop.oomd_kills, 1);
  oomd.emit_killed(kManager + "/app.slice/jellyfin.service", "memory-pressure");  // a second sighting
  pump(
      component, runner, [] { return false; }, 300ms);
  int kill_events = 0;
  for (const auto& event : loop.events) {
    if (event.type != EventType::OomKill) continue;
    ++kill_events;
    EXPECT_NE(event.message.find("systemd-oomd killed jellyfin.service"), std::string::npos) << event.message;
    EXPECT_NE(event.message.find("level critical"), std::string::npos) << event.message;
  }
  EXPECT_EQ(kill_events, 1);

  // A container starting: the loop is asked to rescan.
  UnitProperties immich = test::incident_immich_ml_service();
  immich.slice = "app.slice";  // not adopted into container.slice yet
  systemd.add_unit(immich);
  ASSERT_TRUE(pump(component, runner, [&] { return loop.rescans > 0; }));
  component.on_tick(tick);
  ASSERT_TRUE(
      pump(component, runner, [&] { return loop.has(EventType::Notify, "guardian adopt immich-ml"); }));

  // Stop: the correction is undone (a revert through the action path) and forgotten.
  component.stop();
  EXPECT_EQ(systemd.unit("container.slice").memory_high, 6 * GiB);
  EXPECT_FALSE(state.get("systemd.unit-property/container.slice/MemoryHigh").has_value());
}

// issue 10's acceptance replay: the default policy "corrected" the user's own 800M/1000M down to
// 491M/648M (25%/33% of a 2 GiB guest) and throttled Jellyfin at once. Now the user's limits are
// kept; a lower one is raised; guardian's own value goes back to the user's when the policy no
// longer asks for more; a hard correction still sets the policy's values, restored exactly.
TEST(SystemdComponent, NeverLowersTheUsersLimitsUnlessThePolicyAsksForAHardCorrection) {
  constexpr uint64_t MiB = 1ULL << 20;
  UnitProperties slice = test::incident_container_slice();
  slice.memory_high = 800 * MiB;
  slice.memory_max = 1000 * MiB;
  slice.memory_current = 420 * MiB;
  ComponentBed bed(slice);
  ASSERT_TRUE(bed.ready()) << bed.error();
  auto& systemd = bed.systemd;
  auto& state = bed.state;
  auto& loop = bed.loop;
  auto& runner = bed.runner;
  const auto& options = bed.options;
  const std::string high_key = "systemd.unit-property/container.slice/MemoryHigh";
  const std::string max_key = "systemd.unit-property/container.slice/MemoryMax";
  {
    bus::SystemdComponent component(options, runner);
    component.set_wanted_slice({491 * MiB, 648 * MiB});
    component.start(loop);
    ASSERT_TRUE(pump(component, runner, [&] {
      return loop.has(EventType::ActionApplied,
                      "MemoryHigh of container.slice kept: set by the user (800.00 MiB") &&
             loop.has(EventType::ActionApplied,
                      "MemoryMax of container.slice kept: set by the user (1000.00 MiB");
    }));
    pump(
        component, runner, [] { return false; }, 200ms);
    EXPECT_EQ(systemd.unit("container.slice").memory_high, 800 * MiB);
    EXPECT_EQ(systemd.unit("container.slice").memory_max, 1000 * MiB);
    EXPECT_FALSE(state.get(high_key).has_value());
    EXPECT_FALSE(loop.has(EventType::ActionApplied, "corrected"));

    // A policy that asks for more raises it (the user's 800M saved first) …
    component.set_wanted_slice({900 * MiB, 648 * MiB});
    ASSERT_TRUE(
        pump(component, runner, [&] { return systemd.unit("container.slice").memory_high == 900 * MiB; }));
    ASSERT_TRUE(state.get(high_key).has_value());
    EXPECT_NE(state.get(high_key)->original_json.find(std::to_string(800 * MiB)), std::string::npos);
    // … and one that asks for less than the user's gets the user's back, not a lower value.
    component.set_wanted_slice({700 * MiB, 648 * MiB});
    ASSERT_TRUE(
        pump(component, runner, [&] { return systemd.unit("container.slice").memory_high == 800 * MiB; }));
    ASSERT_TRUE(pump(component, runner, [&] { return !state.get(high_key).has_value(); }));
    component.stop();
    EXPECT_EQ(systemd.unit("container.slice").memory_high, 800 * MiB);
  }
  {
    bus::SystemdComponent component(options, runner);
    component.set_wanted_slice({491 * MiB, 648 * MiB, /*hard=*/true});
    component.start(loop);
    ASSERT_TRUE(pump(component, runner, [&] {
      return systemd.unit("container.slice").memory_high == 491 * MiB &&
             systemd.unit("container.slice").memory_max == 648 * MiB;
    }));
    ASSERT_TRUE(state.get(max_key).has_value());
    component.stop();
    EXPECT_EQ(systemd.unit("container.slice").memory_high, 800 * MiB);
    EXPECT_EQ(systemd.unit("container.slice").memory_max, 1000 * MiB);
    EXPECT_TRUE(state.entries().empty());
  }
}

// Where container.slice has no limit and uses more than the policy's value, raise-only sets
// nothing (a MemoryHigh under memory.current would throttle it at once, a MemoryMax make the
// kernel reclaim or kill inside it): it defers, says so once, looks at the slice again every
// 30 s (systemd sends no PropertiesChanged for MemoryCurrent), and sets the policy's values
// once the slice uses less than 1/1.1 of them. It never steps toward them the way slice.balance
// does: the policy's value is set whole, or not at all. (The slice below uses 600M against the
// issue-10 VM's 491M / 648M policy values.)
TEST(SystemdComponent, WithoutALimitItWaitsForTheSliceToUseLessThenSetsThePolicysValues) {
  constexpr uint64_t MiB = 1ULL << 20;
  UnitProperties slice = test::incident_container_slice();
  slice.memory_high.reset();
  slice.memory_max.reset();
  slice.memory_current = 600 * MiB;
  ComponentBed bed(slice);
  ASSERT_TRUE(bed.ready()) << bed.error();
  auto& systemd = bed.systemd;
  auto& state = bed.state;
  auto& loop = bed.loop;
  auto& runner = bed.runner;
  bus::SystemdComponent component(bed.options, runner);
  component.set_wanted_slice({491 * MiB, 648 * MiB});
  component.start(loop);
  ASSERT_TRUE(pump(component, runner, [&] {
    return loop.has(EventType::ActionApplied,
                    "MemoryHigh of container.slice deferred: the slice uses 600.00 MiB, the policy's "
                    "491.00 MiB would throttle it at once") &&
           loop.has(EventType::ActionApplied,
                    "MemoryMax of container.slice deferred: the slice uses 600.00 MiB");
  }));

  Snapshot snapshot;
  TickView tick;
  tick.snapshot = &snapshot;
  const MonoTime start = std::chrono::steady_clock::now();
  auto tick_at = [&](std::chrono::seconds after) {
    snapshot.mono = start + after;
    component.on_tick(tick);
    pump(
        component, runner, [] { return false; }, 300ms);
  };
  tick_at(0s);  // the first tick looks again: still 600M, still deferred
  systemd.change_property("container.slice", "MemoryCurrent", 420 * MiB);  // no signal, as systemd
  tick_at(10s);                                                            // not yet 30 s
  EXPECT_FALSE(systemd.unit("container.slice").memory_high.has_value());
  EXPECT_FALSE(systemd.unit("container.slice").memory_max.has_value());
  EXPECT_TRUE(systemd.set_calls().empty());
  EXPECT_FALSE(state.get("systemd.unit-property/container.slice/MemoryHigh").has_value());

  tick_at(30s);  // looks again: 420M leaves 10% below 491M and 648M -> both set, whole
  ASSERT_TRUE(pump(component, runner, [&] {
    return systemd.unit("container.slice").memory_high == 491 * MiB &&
           systemd.unit("container.slice").memory_max == 648 * MiB;
  }));
  // The user's "none" saved first, so stop (or a restart after a crash) puts infinity back.
  ASSERT_TRUE(state.get("systemd.unit-property/container.slice/MemoryHigh").has_value());
  component.stop();
  EXPECT_FALSE(systemd.unit("container.slice").memory_high.has_value());
  EXPECT_FALSE(systemd.unit("container.slice").memory_max.has_value());
}

TEST(SystemdComponent, ASliceThatAppearsIsInOomdsListWithinSecondsNotAMinute) {
  // guardian starts before container.slice (podman's first container); oomd learns the slice
  // when it starts. Until guardian reads oomd's list again the model runs without the slice:
  // in the VM test bed that was the whole 60 s dump interval, in which container.slice went
  // from 0 to 97% of oomd's limit unseen. A changed drop-in reading asks oomd at once.
  test::DbusDaemon daemon;
  ASSERT_TRUE(daemon.running()) << daemon.error();
  test::SystemdManagerDouble systemd(daemon.address(), {test::incident_container_slice()});
  test::OomdDouble oomd(daemon.address(), test::kOomdDump252WithoutUserManager);
  ASSERT_TRUE(systemd.ready() && oomd.ready());
  FakeLoop loop;
  bus::SystemdComponentOptions options;
  options.user_bus = bus::BusAddress::at(daemon.address());
  options.system_bus = bus::BusAddress::at(daemon.address());
  options.follow_journal = false;
  ActionEnv env;
  ActionRunner runner(env, [&](const Event& event) { loop.tell(event); });
  bus::SystemdComponent component(options, runner);
  component.start(loop);

  HostLayout layout;
  layout.user_manager_path = kManager;
  Snapshot snapshot;
  const WatchedCgroup app{kManager + "/app.slice", "app.slice", 80.0, 20s,
                          "slice.d/10-oomd-per-slice-defaults.conf"};
  const WatchedCgroup containers{kManager + "/container.slice", "container.slice", 80.0, 20s,
                                 "slice.d/10-oomd-per-slice-defaults.conf"};
  std::vector<WatchedCgroup> dropin_rules = {app};
  auto tick = [&] {
    snapshot.mono = std::chrono::steady_clock::now();
    TickView view;
    view.snapshot = &snapshot;
    view.layout = &layout;
    view.oomd_dropin_rules = &dropin_rules;
    component.on_tick(view);
  };
  tick();
  ASSERT_TRUE(pump(component, runner, [&] { return loop.live_rules.size() == 1; }));

  // container.slice starts: oomd lists it, the daemon's next drop-in reading names it.
  oomd.set_dump(std::string(test::kOomdDump252WithoutUserManager) + "\tPath: " + kManager +
                "/container.slice\n"
                "\t\tMemory Pressure Limit: 80.00%\n"
                "\t\tPressure: Avg10: 0.00 Avg60: 0.00 Avg300: 0.00 Total: 0\n"
                "\t\tCurrent Memory Usage: 2.9G\n"
                "\t\tMemory Min: 0B\n"
                "\t\tMemory Low: 0B\n"
                "\t\tPgscan: 0\n"
                "\t\tLast Pgscan: 0\n");
  dropin_rules.push_back(containers);
  const auto changed = std::chrono::steady_clock::now();
  ASSERT_TRUE(pump(
      component, runner,
      [&] {
        tick();  // the daemon ticks every second; faster here
        return loop.live_rules.size() == 2;
      },
      5000ms));
  EXPECT_LT(std::chrono::steady_clock::now() - changed, 5s);
  EXPECT_EQ(loop.live_rules[1].path, kManager + "/container.slice");
  // oomd listed it by the time guardian asked: nothing to tell.
  EXPECT_FALSE(loop.has(EventType::SenseProblem, "container.slice")) << loop.events.back().message;
}

}  // namespace
}  // namespace guardian
