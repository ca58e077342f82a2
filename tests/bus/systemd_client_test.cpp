// SystemdClient / OomdClient against a real dbus-daemon (private address) with doubles of
// org.freedesktop.systemd1 and org.freedesktop.oom1 (tests/support/systemd_double.h).
// Verified only against the doubles here; the real systemd check is the VM test bed's.
#include "bus/systemd_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "sense/oomd_dump.h"
#include "support/dbus_daemon.h"
#include "support/systemd_double.h"
#include "support/systemd_fixtures.h"

namespace guardian {
namespace {

using namespace std::chrono_literals;
constexpr uint64_t GiB = 1ULL << 30;

bus::Deadline soon() { return bus::Clock::now() + 3s; }

// The incident machine (support/systemd_fixtures.h): container.slice and Jellyfin.
std::vector<UnitProperties> incident_units() {
  return {test::incident_container_slice(), test::incident_jellyfin_service()};
}

class BusTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(daemon_.running()) << daemon_.error(); }
  test::DbusDaemon daemon_;
};

TEST_F(BusTest, ReadsUnitPropertiesWithTheirDbusTypes) {
  test::SystemdManagerDouble systemd(daemon_.address(), incident_units());
  ASSERT_TRUE(systemd.ready());
  bus::SystemdClient client(bus::BusAddress::at(daemon_.address()));
  auto slice = client.get_unit_wait("container.slice", soon());
  ASSERT_TRUE(slice.ok()) << slice.error().message;
  EXPECT_EQ(slice->name, "container.slice");
  EXPECT_EQ(slice->active_state, "active");
  EXPECT_EQ(slice->control_group, "/user.slice/user-1000.slice/user@1000.service/container.slice");
  EXPECT_EQ(slice->memory_high, 8 * GiB);
  EXPECT_EQ(slice->memory_max, 10 * GiB);
  EXPECT_EQ(slice->memory_current, 3'300'000'000ULL);
  EXPECT_EQ(slice->managed_oom_memory_pressure, "kill");
  ASSERT_TRUE(slice->managed_oom_memory_pressure_limit_percent.has_value());
  EXPECT_NEAR(*slice->managed_oom_memory_pressure_limit_percent, 80.0, 0.001);

  auto jellyfin = client.get_unit_wait("jellyfin.service", soon());
  ASSERT_TRUE(jellyfin.ok()) << jellyfin.error().message;
  EXPECT_EQ(jellyfin->slice, "app.slice");
  EXPECT_EQ(jellyfin->n_restarts, 3u);
  EXPECT_EQ(jellyfin->source_path, "/home/alice/.config/containers/systemd/jellyfin.container");
  ASSERT_EQ(jellyfin->environment.size(), 1u);
  auto container = classify_container(*jellyfin);
  ASSERT_TRUE(container.has_value());
  EXPECT_EQ(container->name, "jellyfin");
  EXPECT_FALSE(container->in_container_slice);
}

TEST_F(BusTest, LastReferenceDroppedInItsOwnCallbackIsReleasedSafely) {
  // The systemd component's container scan keeps the client alive in a callback that runs on the
  // client's bus thread; when guardian stops meanwhile, that callback drops the last reference
  // there. The client's destructor joins its bus thread: done from that thread it threw
  // std::system_error (EDEADLK) and aborted guardian on SIGTERM.
  test::SystemdManagerDouble systemd(daemon_.address(), incident_units());
  auto released = std::make_shared<bus::ReleasedClients>();
  auto client = bus::make_shared_systemd_client(bus::BusAddress::at(daemon_.address()), released);
  std::promise<void> in_callback;
  std::promise<void> outside_reference_dropped;
  auto dropped = outside_reference_dropped.get_future().share();
  std::atomic<bool> callback_finished{false};
  client->get_unit("container.slice", [keep = client, &in_callback, dropped,
                                       &callback_finished](Result<UnitProperties>) mutable {
    in_callback.set_value();
    dropped.wait();
    keep.reset();  // the last reference, on the bus thread
    callback_finished = true;
  });
  ASSERT_EQ(in_callback.get_future().wait_for(5s), std::future_status::ready);
  std::weak_ptr<bus::SystemdClient> watch = client;
  client.reset();
  outside_reference_dropped.set_value();
  for (int i = 0; i < 500 && !callback_finished; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(callback_finished);
  released->wait(5s);
  EXPECT_TRUE(watch.expired());
}

TEST_F(BusTest, SetUnitPropertiesSendsRuntimeAndUint64) {
  test::SystemdManagerDouble systemd(daemon_.address(), incident_units());
  bus::SystemdClient client(bus::BusAddress::at(daemon_.address()));
  auto set =
      client.set_unit_properties_wait("container.slice", true, {{"MemoryHigh", uint64_t{6 * GiB}}}, soon());
  ASSERT_TRUE(set.ok()) << set.error().message;
  auto calls = systemd.set_calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].unit, "container.slice");
  EXPECT_TRUE(calls[0].runtime);
  ASSERT_EQ(calls[0].properties.size(), 1u);
  EXPECT_EQ(std::get<0>(calls[0].properties[0]), "MemoryHigh");
  EXPECT_EQ(std::get<1>(calls[0].properties[0]), "t");
  EXPECT_EQ(std::get<2>(calls[0].properties[0]), std::to_string(6 * GiB));
  auto after = client.get_unit_wait("container.slice", soon());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->memory_high, 6 * GiB);
}

TEST_F(BusTest, ErrorsNameTheUnitAndSystemdsError) {
  test::SystemdManagerDouble systemd(daemon_.address(), incident_units());
  bus::SystemdClient client(bus::BusAddress::at(daemon_.address()));
  auto frozen = client.freeze_unit_wait("immich.service", soon());
  ASSERT_FALSE(frozen.ok());
  EXPECT_NE(frozen.error().message.find("immich.service"), std::string::npos) << frozen.error().message;
  EXPECT_NE(frozen.error().message.find("org.freedesktop.systemd1.NoSuchUnit"), std::string::npos)
      << frozen.error().message;
}

TEST_F(BusTest, FreezeAndThaw) {
  test::SystemdManagerDouble systemd(daemon_.address(), incident_units());
  bus::SystemdClient client(bus::BusAddress::at(daemon_.address()));
  ASSERT_TRUE(client.freeze_unit_wait("jellyfin.service", soon()).ok());
  EXPECT_EQ(systemd.unit("jellyfin.service").freezer_state, "frozen");
  auto read = client.get_unit_wait("jellyfin.service", soon());
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->freezer_state, "frozen");
  ASSERT_TRUE(client.thaw_unit_wait("jellyfin.service", soon()).ok());
  EXPECT_EQ(systemd.unit("jellyfin.service").freezer_state, "running");
}

TEST_F(BusTest, ListUnits) {
  test::SystemdManagerDouble systemd(daemon_.address(), incident_units());
  bus::SystemdClient client(bus::BusAddress::at(daemon_.address()));
  auto units = client.list_units_wait(soon());
  ASSERT_TRUE(units.ok()) << units.error().message;
  ASSERT_EQ(units->size(), 2u);
  EXPECT_EQ((*units)[0].name, "container.slice");
  EXPECT_EQ((*units)[0].object_path, "/org/freedesktop/systemd1/unit/container_2eslice");
  EXPECT_EQ((*units)[1].name, "jellyfin.service");
}

// Collects signals delivered on the bus thread.
struct SignalLog {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<bus::UnitSignal> signals;
  std::vector<bus::OomdKilled> kills;
  template <class Predicate>
  bool wait(Predicate predicate) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 3s, [&] { return predicate(); });
  }
};

TEST_F(BusTest, SubscribesAndSeesUnitsComeAndGoAndChange) {
  test::SystemdManagerDouble systemd(daemon_.address(), incident_units());
  bus::SystemdClient client(bus::BusAddress::at(daemon_.address()));
  SignalLog log;
  client.watch_units([&](const bus::UnitSignal& signal) {
    std::lock_guard lock(log.mutex);
    log.signals.push_back(signal);
    log.changed.notify_all();
  });
  // Subscribe() reached the manager before we cause signals.
  for (int i = 0; i < 300; ++i) {
    auto calls = systemd.calls();
    if (std::find(calls.begin(), calls.end(), "Subscribe") != calls.end()) break;
    std::this_thread::sleep_for(10ms);
  }
  auto calls = systemd.calls();
  ASSERT_NE(std::find(calls.begin(), calls.end(), "Subscribe"), calls.end());

  UnitProperties immich;
  immich.name = "immich-server.service";
  immich.load_state = "loaded";
  immich.active_state = "active";
  immich.slice = "app.slice";
  systemd.add_unit(immich);
  systemd.change_property("container.slice", "MemoryHigh", 7 * GiB);
  systemd.remove_unit("immich-server.service");
  ASSERT_TRUE(log.wait([&] { return log.signals.size() >= 3; })) << log.signals.size();
  std::lock_guard lock(log.mutex);
  EXPECT_EQ(log.signals[0].kind, bus::UnitSignal::Kind::New);
  EXPECT_EQ(log.signals[0].unit, "immich-server.service");
  EXPECT_EQ(log.signals[1].kind, bus::UnitSignal::Kind::PropertiesChanged);
  EXPECT_EQ(log.signals[1].unit, "container.slice");
  EXPECT_EQ(log.signals[1].interface, "org.freedesktop.systemd1.Slice");
  EXPECT_EQ(log.signals[1].properties, std::vector<std::string>{"MemoryHigh"});
  EXPECT_EQ(log.signals[2].kind, bus::UnitSignal::Kind::Removed);
}

TEST_F(BusTest, OomdDumpThroughAMemfdAndKilledSignal) {
  test::OomdDouble oomd(daemon_.address(), test::kOomdDump252WithoutUserManager);
  ASSERT_TRUE(oomd.ready());
  bus::OomdClient client(bus::BusAddress::at(daemon_.address()));
  SignalLog log;
  client.watch_kills([&](const bus::OomdKilled& killed) {
    std::lock_guard lock(log.mutex);
    log.kills.push_back(killed);
    log.changed.notify_all();
  });
  auto text = client.dump_wait(soon());
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_EQ(*text, test::kOomdDump252WithoutUserManager);
  auto dump = parse_oomd_dump(*text);
  ASSERT_TRUE(dump.ok()) << dump.error().message;
  ASSERT_EQ(dump->pressure_monitored.size(), 1u);

  // The match is installed asynchronously after connect; retry the signal until it arrives.
  for (int attempt = 0; attempt < 30; ++attempt) {
    oomd.emit_killed("/user.slice/user-1000.slice/user@1000.service/app.slice/jellyfin.service",
                     "memory-pressure");
    if (log.wait([&] { return !log.kills.empty(); })) break;
  }
  std::lock_guard lock(log.mutex);
  ASSERT_FALSE(log.kills.empty());
  EXPECT_EQ(log.kills[0].cgroup, "/user.slice/user-1000.slice/user@1000.service/app.slice/jellyfin.service");
  EXPECT_EQ(log.kills[0].reason, "memory-pressure");
}

TEST_F(BusTest, DeadBusFailsFastReportsAndReconnects) {
  auto systemd = std::make_unique<test::SystemdManagerDouble>(daemon_.listen_address(), incident_units());
  bus::SystemdClient client(bus::BusAddress::at(daemon_.listen_address()));
  client.set_retry_interval(50ms, 200ms);
  std::mutex mutex;
  std::vector<std::pair<bool, std::string>> changes;
  client.on_connection_change([&](bool connected, const std::string& why) {
    std::lock_guard lock(mutex);
    changes.emplace_back(connected, why);
  });
  ASSERT_TRUE(client.get_unit_wait("container.slice", soon()).ok());

  systemd.reset();
  daemon_.kill_now();
  // The loss is seen and said once; calls answer with an error at once, not at the deadline.
  for (int i = 0; i < 300 && client.connected(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(client.connected());
  const auto started = bus::Clock::now();
  auto failed = client.get_unit_wait("container.slice", bus::Clock::now() + 2s);
  EXPECT_FALSE(failed.ok());
  EXPECT_LT(bus::Clock::now() - started, 1s) << failed.error().message;

  ASSERT_TRUE(daemon_.restart()) << daemon_.error();
  systemd = std::make_unique<test::SystemdManagerDouble>(daemon_.listen_address(), incident_units());
  for (int i = 0; i < 300 && !client.connected(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(client.connected());
  auto again = client.get_unit_wait("container.slice", soon());
  ASSERT_TRUE(again.ok()) << again.error().message;
  std::lock_guard lock(mutex);
  ASSERT_GE(changes.size(), 3u);
  EXPECT_TRUE(changes[0].first);
  EXPECT_FALSE(changes[1].first);
  EXPECT_NE(changes[1].second.find("bus at"), std::string::npos) << changes[1].second;
  EXPECT_TRUE(changes.back().first);
}

}  // namespace
}  // namespace guardian
