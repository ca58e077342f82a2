// guardian's D-Bus API against a real dbus-daemon (a private session bus started by the test):
// the service exported from a tick, properties read and signals received through the proxy
// generated from guardian/tell/dbus/io.github.guardian.Guardian1.xml, Reload calling back into
// the loop, events from another thread, a second guardian refused the name, the bus going away.
#include "tell/dbus_service.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sdbus-c++/sdbus-c++.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include "support/component_pump.h"
#include "support/dbus_daemon.h"
#include "support/dbus_daemon_fixture.h"
#include "support/tick_fixture.h"
#include "tell/dbus/guardian1_proxy.h"
#include "tell/dbus_client.h"

namespace guardian {
namespace {

using testing::DbusDaemonFixture;
using testing::pump_until;
using testing::TickFixture;

// A DaemonLoop that records what the component asks of it.
class FakeLoop final : public DaemonLoop {
 public:
  std::function<void()> on_reload;
  int reloads = 0;
  std::vector<Event> told;
  std::string explanation = "full avg10 of user.slice 86.09 > 80 (oomd's limit): 8 s until oomd kills";

  void request_reload() override {
    ++reloads;
    if (on_reload) on_reload();
  }
  void request_rescan() override {}
  void request_tick() override {}
  void tell(const Event& event) override { told.push_back(event); }
  void note_oomd_kill(MonoTime) override {}
  [[nodiscard]] std::string explain() const override { return explanation; }
};

// The generated proxy on its own connection with its own event-loop thread, recording signals.
struct Signal {
  std::string name;
  std::vector<std::string> args;
};
class RecordingProxy final
    : public sdbus::ProxyInterfaces<io::github::guardian::Guardian1_proxy, sdbus::Properties_proxy> {
 public:
  explicit RecordingProxy(const std::string& address)
      : ProxyInterfaces(sdbus::createSessionBusConnectionWithAddress(address), std::string(kDbusBusName),
                        std::string(kDbusObjectPath)) {
    registerProxy();
  }
  ~RecordingProxy() { unregisterProxy(); }

  std::vector<Signal> signals() {
    std::lock_guard lock(mutex_);
    return signals_;
  }
  bool has(const std::string& name) {
    for (const auto& s : signals()) {
      if (s.name == name) return true;
    }
    return false;
  }
  std::vector<std::map<std::string, sdbus::Variant>> properties_changed() {
    std::lock_guard lock(mutex_);
    return changed_;
  }

 private:
  void record(std::string name, std::vector<std::string> args) {
    std::lock_guard lock(mutex_);
    signals_.push_back({std::move(name), std::move(args)});
  }
  void onLevelChanged(const std::string& from, const std::string& to, const std::string& reason) override {
    record("LevelChanged", {from, to, reason});
  }
  void onActionApplied(const std::string& level, const std::string& action, const std::string& result,
                       const std::string& detail) override {
    record("ActionApplied", {level, action, result, detail});
  }
  void onOomKillSeen(const std::string& cgroup, const std::string& killer,
                     const std::string& reason) override {
    record("OomKillSeen", {cgroup, killer, reason});
  }
  void onPropertiesChanged(const std::string& interface_name,
                           const std::map<std::string, sdbus::Variant>& changed,
                           const std::vector<std::string>&) override {
    std::lock_guard lock(mutex_);
    if (interface_name == kDbusInterface) changed_.push_back(changed);
  }

  std::mutex mutex_;
  std::vector<Signal> signals_;
  std::vector<std::map<std::string, sdbus::Variant>> changed_;
};

// Runs a blocking client call on another thread while this one drives the service, as the
// daemon loop would.
template <class F>
auto call_pumped(DbusService& service, F&& call) {
  auto future = std::async(std::launch::async, std::forward<F>(call));
  pump_until(
      service, [&] { return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready; },
      std::chrono::seconds(10));
  return future.get();
}

class DbusServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(bus.ok()) << bus.error();
    options.bus_address = bus.address();
  }
  DbusDaemonFixture bus;
  DbusServiceOptions options;
  TickFixture fixture;
};

TEST_F(DbusServiceTest, PropertiesThroughTheGeneratedProxy) {
  DbusService service(options);
  FakeLoop loop;
  service.start(loop);
  ASSERT_TRUE(service.connected()) << (loop.told.empty() ? "" : loop.told.front().message);
  // Only what the bus thread hands back to the loop: the loop never polls the bus itself.
  EXPECT_EQ(service.fds().size(), 1u);
  fixture.at_level(1, "elevated", "full avg10 of user.slice 86.09 > 60", {"elevated/log"});
  fixture.dry_run = true;
  service.on_tick(fixture.view());

  struct Read {
    std::string level;
    uint32_t index;
    std::vector<sdbus::Struct<std::string, double, double, double, bool, double, double, std::string>>
        watched;
    sdbus::Struct<double, double> system;
    std::vector<std::string> actions;
    std::string policy, mode, version, explain;
    bool dry_run;
  };
  const Read read = call_pumped(service, [&] {
    RecordingProxy proxy(bus.address());
    return Read{proxy.Level(),         proxy.LevelIndex(), proxy.WatchedCgroups(), proxy.SystemPressure(),
                proxy.ActiveActions(), proxy.PolicyPath(), proxy.Mode(),           proxy.Version(),
                proxy.Explain(),       proxy.DryRun()};
  });
  EXPECT_EQ(read.level, "elevated");
  EXPECT_EQ(read.index, 1u);
  ASSERT_EQ(read.watched.size(), 2u);
  EXPECT_EQ(read.watched[0].get<0>(), std::string(testing::kUserManager) + "/user.slice");
  EXPECT_DOUBLE_EQ(read.watched[0].get<1>(), 86.09);
  EXPECT_DOUBLE_EQ(read.watched[0].get<2>(), 80.0);
  EXPECT_DOUBLE_EQ(read.watched[0].get<3>(), 20.0);
  EXPECT_TRUE(read.watched[0].get<4>());
  EXPECT_DOUBLE_EQ(read.watched[0].get<5>(), 12.0);
  EXPECT_DOUBLE_EQ(read.watched[0].get<6>(), 8.0);
  EXPECT_EQ(read.watched[0].get<7>(), testing::kJellyfinScope);
  // No kill on course: -1 and an empty victim on the bus.
  EXPECT_EQ(read.watched[1].get<0>(), std::string(testing::kUserManager) + "/app.slice");
  EXPECT_FALSE(read.watched[1].get<4>());
  EXPECT_DOUBLE_EQ(read.watched[1].get<6>(), -1.0);
  EXPECT_EQ(read.watched[1].get<7>(), "");
  EXPECT_DOUBLE_EQ(read.system.get<0>(), 41.52);
  EXPECT_DOUBLE_EQ(read.system.get<1>(), 35.18);
  EXPECT_EQ(read.actions, std::vector<std::string>{"elevated/log"});
  EXPECT_EQ(read.policy, "/home/user/.config/guardian/policy.toml");
  EXPECT_EQ(read.mode, "full");
  EXPECT_EQ(read.version, GUARDIAN_VERSION);
  // Explain answers, on the bus thread, with the explanation of the last tick handed over (the
  // daemon's explain() is the same text); it never calls into the loop.
  EXPECT_EQ(read.explain, "full avg10 of user.slice 86.09 > 60");
  EXPECT_TRUE(read.dry_run);
  service.stop();
}

TEST_F(DbusServiceTest, ClientFetchesTheSameStatus) {
  DbusService service(options);
  ASSERT_TRUE(service.connect().ok());
  fixture.layout.memory_controller = false;
  fixture.layout.system_only_reason = "no cgroup v2 memory controller (cgroup2 at /sys/fs/cgroup/unified)";
  service.on_tick(fixture.view());
  auto status = call_pumped(service, [&] {
    return fetch_daemon_status({bus.address(), std::chrono::seconds(5)});
  });
  ASSERT_TRUE(status.ok()) << status.error().message;
  DaemonStatus expected = status_from_tick(fixture.view());
  EXPECT_EQ(*status, expected);  // every field survives the trip, Explain included (no loop: last tick's)
  EXPECT_EQ(status->mode, "system-only");
  EXPECT_EQ(status->mode_reason, fixture.layout.system_only_reason);
  ASSERT_EQ(status->watched.size(), 2u);
  EXPECT_EQ(status->watched[1].seconds_until_kill, std::nullopt);
}

TEST_F(DbusServiceTest, LevelChangeSignalsAndPropertiesChanged) {
  DbusService service(options);
  FakeLoop loop;
  service.start(loop);
  ASSERT_TRUE(service.connected());
  service.on_tick(fixture.view());  // first tick: normal, nothing to announce

  RecordingProxy proxy(bus.address());
  // A tick that climbs two levels: the loop tells each transition (as the journal gets it),
  // then hands the components the finished tick.
  Event to_elevated;
  to_elevated.type = EventType::LevelChanged;
  to_elevated.message = "level normal -> elevated";
  to_elevated.with("LEVEL", "elevated")
      .with("PREVIOUS_LEVEL", "normal")
      .with("REASON", "full avg10 of user.slice 86.09 > 60");
  service.emit(to_elevated);
  Event to_critical;
  to_critical.type = EventType::LevelChanged;
  to_critical.message = "level elevated -> critical";
  to_critical.with("LEVEL", "critical")
      .with("PREVIOUS_LEVEL", "elevated")
      .with("REASON", "8 s until oomd kills in user.slice < 10");
  service.emit(to_critical);
  fixture.at_level(2, "critical", "8 s until oomd kills in user.slice < 10",
                   {"elevated/log", "critical/notify"});
  service.on_tick(fixture.view());
  ASSERT_TRUE(pump_until(service,
                         [&] { return proxy.signals().size() == 2 && !proxy.properties_changed().empty(); }));
  const auto signals = proxy.signals();
  ASSERT_EQ(signals.size(), 2u);
  EXPECT_EQ(signals[0].name, "LevelChanged");
  EXPECT_EQ(signals[0].args,
            (std::vector<std::string>{"normal", "elevated", "full avg10 of user.slice 86.09 > 60"}));
  EXPECT_EQ(signals[1].args,
            (std::vector<std::string>{"elevated", "critical", "8 s until oomd kills in user.slice < 10"}));
  const auto changed = proxy.properties_changed().front();
  ASSERT_EQ(changed.count("Level"), 1u);
  EXPECT_EQ(changed.at("Level").get<std::string>(), "critical");
  EXPECT_EQ(changed.at("LevelIndex").get<uint32_t>(), 2u);
  EXPECT_EQ(changed.at("ActiveActions").get<std::vector<std::string>>(),
            (std::vector<std::string>{"elevated/log", "critical/notify"}));
  EXPECT_EQ(changed.count("PolicyPath"), 0u);  // unchanged: not announced

  // The same state again: no PropertiesChanged.
  service.on_tick(fixture.view());
  testing::pump_for(service, std::chrono::milliseconds(200));
  EXPECT_EQ(proxy.signals().size(), 2u);
  EXPECT_EQ(proxy.properties_changed().size(), 1u);
  service.stop();
}

TEST_F(DbusServiceTest, ActionAndOomKillEventsBecomeSignalsEvenFromTheWorkerThread) {
  DbusService service(options);
  FakeLoop loop;
  service.start(loop);
  ASSERT_TRUE(service.connected());
  RecordingProxy proxy(bus.address());

  // Actions tell from the action worker thread: queued like the loop's, sent by the bus thread.
  std::thread worker([&] {
    Event applied;
    applied.type = EventType::ActionApplied;
    applied.message = "container.slice MemoryHigh 8G -> 6G";
    applied.with("LEVEL", "elevated").with("ACTION", "slice.set-memory-high").with("RESULT", "applied");
    service.emit(applied);
    Event failed;
    failed.type = EventType::ActionFailed;
    failed.message = "FreezeUnit immich-ml.service: org.freedesktop.systemd1.NoSuchUnit";
    failed.with("ACTION", "critical/unit.freeze");  // told by its label only
    service.emit(failed);
  });
  worker.join();
  Event kill;
  kill.type = EventType::OomKill;
  kill.message = "systemd-oomd killed jellyfin";
  kill.with("CGROUP", testing::kJellyfinScope)
      .with("KILLER", "systemd-oomd")
      .with("REASON", "memory-pressure");
  service.emit(kill);
  Event ignored;  // not a bus event
  ignored.type = EventType::Notify;
  service.emit(ignored);

  ASSERT_TRUE(pump_until(service, [&] { return proxy.signals().size() >= 3; }));
  testing::pump_for(service, std::chrono::milliseconds(100));
  const auto signals = proxy.signals();
  ASSERT_EQ(signals.size(), 3u);
  std::map<std::string, std::vector<std::string>> by_first;
  for (const auto& s : signals) by_first[s.name + ":" + s.args[0]] = s.args;
  EXPECT_EQ(by_first["ActionApplied:elevated"],
            (std::vector<std::string>{"elevated", "slice.set-memory-high", "applied",
                                      "container.slice MemoryHigh 8G -> 6G"}));
  EXPECT_EQ(by_first["ActionApplied:critical"],
            (std::vector<std::string>{"critical", "unit.freeze", "failed",
                                      "FreezeUnit immich-ml.service: org.freedesktop.systemd1.NoSuchUnit"}));
  EXPECT_EQ(by_first[std::string("OomKillSeen:") + testing::kJellyfinScope],
            (std::vector<std::string>{testing::kJellyfinScope, "systemd-oomd", "memory-pressure"}));
  service.stop();
}

TEST_F(DbusServiceTest, ReloadCallsTheLoopAndRepliesWithTheOutcome) {
  DbusService service(options);
  FakeLoop loop;
  // The loop reloads on the spot and tells the outcome, as it does for SIGHUP.
  loop.on_reload = [&] {
    Event loaded;
    loaded.type = EventType::PolicyLoaded;
    loaded.message = "policy loaded from /home/user/.config/guardian/policy.toml (2 levels)";
    service.emit(loaded);
  };
  service.start(loop);
  ASSERT_TRUE(service.connected());
  service.on_tick(fixture.view());  // the API answers from the first published tick on
  auto ok = call_pumped(service, [&] {
    return request_daemon_reload({bus.address(), std::chrono::seconds(5)});
  });
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_TRUE(ok->first);
  EXPECT_EQ(ok->second, "policy loaded from /home/user/.config/guardian/policy.toml (2 levels)");
  EXPECT_EQ(loop.reloads, 1);

  // This time the loop answers on a later turn, with a rejection.
  loop.on_reload = [&] {
    std::thread([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      Event rejected;
      rejected.type = EventType::PolicyRejected;
      rejected.message =
          "policy.toml:12:3: unknown key \"theshold\" (did you mean \"threshold\"?); the old policy stays";
      service.emit(rejected);
    }).detach();
  };
  auto rejected = call_pumped(service, [&] {
    return request_daemon_reload({bus.address(), std::chrono::seconds(5)});
  });
  ASSERT_TRUE(rejected.ok()) << rejected.error().message;
  EXPECT_FALSE(rejected->first);
  EXPECT_NE(rejected->second.find("policy.toml:12:3: unknown key"), std::string::npos);
  EXPECT_EQ(loop.reloads, 2);
  service.stop();
}

// An outcome the loop told before it took a Reload() call (the start's policy load, or an earlier
// reload's outcome still in the queue) must not answer it: a second reload of a file just broken
// was answered with the first reload's success (StatusEndToEndTest, under load).
TEST_F(DbusServiceTest, AnOutcomeToldBeforeTheLoopTookACallDoesNotAnswerIt) {
  DbusService service(options);
  FakeLoop loop;
  loop.on_reload = [&] {
    Event rejected;
    rejected.type = EventType::PolicyRejected;
    rejected.message = "policy.toml:31:1: unknown key \"intervall\"; the previous policy stays in force";
    service.emit(rejected);
  };
  service.start(loop);
  ASSERT_TRUE(service.connected());
  service.on_tick(fixture.view());
  auto future = std::async(std::launch::async, [&] {
    return request_daemon_reload({bus.address(), std::chrono::seconds(5)});
  });
  // The call is with the service once its eventfd to the loop is readable; the loop has not
  // taken it (nothing pumps it yet).
  pollfd ready{service.fds().front(), POLLIN, 0};
  ASSERT_EQ(::poll(&ready, 1, 5000), 1);
  Event earlier;
  earlier.type = EventType::PolicyLoaded;
  earlier.message = "policy reload: 0 action(s) left in force, 0 reverted, 0 applied";
  service.emit(earlier);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the bus thread sends it meanwhile
  EXPECT_EQ(future.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "answered with an outcome from before the loop took the call";
  ASSERT_TRUE(pump_until(
      service, [&] { return future.wait_for(std::chrono::milliseconds(20)) == std::future_status::ready; }));
  auto answer = future.get();
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  EXPECT_FALSE(answer->first) << answer->second;
  EXPECT_NE(answer->second.find("unknown key \"intervall\""), std::string::npos) << answer->second;
  EXPECT_EQ(loop.reloads, 1);
  service.stop();
}

TEST_F(DbusServiceTest, CallsBeforeTheFirstTickWaitForIt) {
  // The daemon starts its components before it applies the policy and samples: a `guardian
  // status` in that gap must not be answered with an empty policy (CI saw exactly that once).
  DbusService service(options);
  FakeLoop loop;
  service.start(loop);
  ASSERT_TRUE(service.connected());
  auto future = std::async(std::launch::async, [&] {
    return fetch_daemon_status({bus.address(), std::chrono::seconds(5)});
  });
  testing::pump_for(service, std::chrono::milliseconds(300));
  EXPECT_EQ(future.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout)
      << "answered before any tick was published";
  service.on_tick(fixture.view());
  ASSERT_TRUE(pump_until(
      service, [&] { return future.wait_for(std::chrono::milliseconds(20)) == std::future_status::ready; }));
  auto status = future.get();
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->policy_path, "/home/user/.config/guardian/policy.toml");
  service.stop();
}

TEST_F(DbusServiceTest, ReloadWithoutAnOutcomeTimesOut) {
  options.reload_timeout = std::chrono::milliseconds(200);
  DbusService service(options);
  FakeLoop loop;  // never tells PolicyLoaded/PolicyRejected
  service.start(loop);
  ASSERT_TRUE(service.connected());
  const auto started = std::chrono::steady_clock::now();
  // The deadline is checked on each tick (the daemon ticks every sampling interval, 1 s by
  // default); tick every 50 ms here.
  auto future = std::async(std::launch::async, [&] {
    return request_daemon_reload({bus.address(), std::chrono::seconds(5)});
  });
  pump_until(service, [&] {
    service.on_tick(fixture.view());
    return future.wait_for(std::chrono::milliseconds(40)) == std::future_status::ready;
  });
  auto result = future.get();
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_FALSE(result->first);
  EXPECT_EQ(result->second, "no reload outcome from the daemon loop within 200 ms");
  EXPECT_GE(took, std::chrono::milliseconds(200));
  EXPECT_LT(took, std::chrono::seconds(3));
}

TEST_F(DbusServiceTest, SecondGuardianIsRefusedTheName) {
  DbusService first(options);
  ASSERT_TRUE(first.connect().ok());
  DbusService second(options);
  FakeLoop loop;
  second.start(loop);
  EXPECT_FALSE(second.connected());
  ASSERT_EQ(loop.told.size(), 1u);
  EXPECT_EQ(loop.told[0].type, EventType::ComponentFailed);
  EXPECT_NE(loop.told[0].message.find("io.github.guardian.Guardian1 is already owned"), std::string::npos)
      << loop.told[0].message;
  EXPECT_EQ(second.fds().size(), 1u);  // only its wake-up fd: nothing on the bus to poll
}

TEST_F(DbusServiceTest, NoBusIsToldOnceAndTheServiceStaysInert) {
  DbusService service(
      DbusServiceOptions{"unix:path=" + bus.directory() + "/no-such-bus", std::chrono::seconds(5)});
  FakeLoop loop;
  service.start(loop);
  EXPECT_FALSE(service.connected());
  ASSERT_EQ(loop.told.size(), 1u);
  EXPECT_NE(loop.told[0].message.find("cannot serve io.github.guardian.Guardian1 on bus unix:path="),
            std::string::npos)
      << loop.told[0].message;
  service.on_tick(fixture.view());  // still answers ticks without a bus
  EXPECT_EQ(service.status().level, "normal");
}

TEST_F(DbusServiceTest, BusGoingAwayDropsTheConnection) {
  DbusService service(options);
  FakeLoop loop;
  service.start(loop);
  ASSERT_TRUE(service.connected());
  service.on_tick(fixture.view());  // the bus is read from the first published tick on
  bus.stop();
  // The bus thread sees the hang-up, lets the connection go and hands the loop one failure to tell.
  ASSERT_TRUE(pump_until(service, [&] { return !service.connected() && !loop.told.empty(); }));
  EXPECT_EQ(service.fds().size(), 1u);
  ASSERT_EQ(loop.told.size(), 1u);
  EXPECT_EQ(loop.told[0].type, EventType::ComponentFailed);
  EXPECT_NE(loop.told[0].message.find("lost the session bus connection"), std::string::npos);
  service.on_tick(fixture.view());
  EXPECT_EQ(loop.told.size(), 1u);  // said once
}

// The session bus daemon dies (as one killed or stalled for good under memory pressure would)
// while the loop keeps ticking, and the level keeps changing: no tick and no event waits for the
// bus (the loop only hands them to the bus thread), the loss is told once, and when a bus comes
// back on the same socket the link reconnects, takes the name again and answers with the newest
// status.
TEST(DbusServiceReconnect, ADeadBusNeverStallsTheLoopAndTheServiceComesBackWithIt) {
  test::DbusDaemon daemon;
  ASSERT_FALSE(daemon.address().empty()) << daemon.error();
  DbusServiceOptions options{daemon.listen_address(), std::chrono::seconds(5),
                             std::chrono::milliseconds(100)};
  DbusService service(options);
  FakeLoop loop;
  TickFixture fixture;
  service.start(loop);
  ASSERT_TRUE(service.connected());
  service.on_tick(fixture.view());
  const std::string before =
      call_pumped(service, [&] { return RecordingProxy(daemon.listen_address()).Level(); });
  EXPECT_EQ(before, "normal");

  daemon.kill_now();
  Event climbed;
  climbed.type = EventType::LevelChanged;
  climbed.message = "level normal -> elevated";
  climbed.with("LEVEL", "elevated").with("PREVIOUS_LEVEL", "normal").with("REASON", "full avg10 86.09 > 60");
  std::chrono::duration<double> slowest{0};
  for (int i = 0; i < 30; ++i) {
    if (i % 2 == 0)
      fixture.at_level(1, "elevated", "full avg10 of user.slice 86.09 > 60", {"elevated/log"});
    else
      fixture.at_level(0, "normal", "calm", {});
    const auto began = std::chrono::steady_clock::now();
    service.on_tick(fixture.view());
    service.emit(climbed);
    slowest = std::max(slowest, std::chrono::duration<double>(std::chrono::steady_clock::now() - began));
    testing::pump_for(service, std::chrono::milliseconds(20));  // the link retries every 0.1-0.4 s
  }
  EXPECT_LT(slowest.count(), 0.05) << "the slowest tick + event hand-over while the bus was dead";
  EXPECT_FALSE(service.connected());
  ASSERT_EQ(loop.told.size(), 1u) << "the loss told once, not once per failed reconnect";
  EXPECT_NE(loop.told[0].message.find("lost the session bus connection"), std::string::npos)
      << loop.told[0].message;

  ASSERT_TRUE(daemon.restart()) << daemon.error();
  fixture.at_level(2, "critical", "8 s until oomd kills in user.slice < 10",
                   {"elevated/log", "critical/notify"});
  service.on_tick(fixture.view());
  ASSERT_TRUE(pump_until(
      service, [&] { return service.connected(); }, std::chrono::seconds(10)))
      << "no reconnect to the bus that came back";
  const std::string after =
      call_pumped(service, [&] { return RecordingProxy(daemon.listen_address()).Level(); });
  EXPECT_EQ(after, "critical");
  EXPECT_EQ(loop.told.size(), 1u);
  service.stop();
}

// A full queue to the bus thread drops and counts, it never waits: here the bus thread is busy
// answering nothing (no bus), so the loop's events pile up past the queue.
TEST(DbusServiceQueue, AFullEventQueueDropsAndCountsInsteadOfWaiting) {
  DbusService service(DbusServiceOptions{"unix:path=/nonexistent/guardian-test-bus", std::chrono::seconds(5),
                                         std::chrono::seconds(30)});
  // Not started: no thread takes events, so the queue fills.
  Event kill;
  kill.type = EventType::OomKill;
  kill.message = "systemd-oomd killed jellyfin";
  for (size_t i = 0; i < DbusService::kEventQueue + 10; ++i) service.emit(kill);
  EXPECT_EQ(service.events_dropped(), 10u);
}

TEST_F(DbusServiceTest, StatusWithoutDaemonSaysNotRunning) {
  auto status = fetch_daemon_status({bus.address(), std::chrono::seconds(2)});
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("guardian is not running on bus"), std::string::npos)
      << status.error().message;
}

}  // namespace
}  // namespace guardian
