// The `notify` action end to end: the real `guardian run` over a copy of the fixture desktop
// (fedora42-podman, whose app.slice holds firefox 8.3 GB, Evolution 1.5 GB, Nautilus 420 MB and
// whose /usr/share/applications has their desktop files), a real dbus-daemon as the session bus
// and a notification server speaking org.freedesktop.Notifications. Pressure rises three times
// (the fixture's /proc/pressure/memory rewritten): one notification, shown once and updated in
// place twice, naming the largest app by its desktop file's name.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "support/dbus_daemon_fixture.h"
#include "support/notification_server.h"
#include "support/subprocess.h"

namespace guardian {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// One level on the system's full avg10 (the fixture host is system-wide under pressure), left
// when it falls; notify at most once a second so each rise is shown.
constexpr const char* kPolicy = R"(version = 1
[sampling]
interval = "1s"
[[level]]
name = "tight"
hold = "1s"
enter = [ { signal = "full_avg10", cgroup = "system", above = 20 } ]
exit = [ { signal = "full_avg10", cgroup = "system", below = 10 } ]
actions = [
  { type = "notify", summary = "Memory is tight", body = "Close what you do not need.", interval = "1s" },
]
)";

// /proc/pressure/memory in the kernel's format; totals grow as a real stall's do.
std::string pressure(double full_avg10, uint64_t total) {
  char text[256];
  std::snprintf(text, sizeof text,
                "some avg10=%.2f avg60=5.10 avg300=1.20 total=%llu\nfull avg10=%.2f avg60=4.00 avg300=0.90 "
                "total=%llu\n",
                full_avg10 + 5, static_cast<unsigned long long>(total * 2), full_avg10,
                static_cast<unsigned long long>(total));
  return text;
}

class NotifyDaemon : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(bus_.ok()) << bus_.error();
    root_ = fs::temp_directory_path() / ("guardian-notify-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::copy(std::string(GUARDIAN_FIXTURES_DIR) + "/fedora42-podman", root_, fs::copy_options::recursive);
    std::ofstream(root_ / "policy.toml") << kPolicy;
  }
  void TearDown() override { fs::remove_all(root_); }
  // Rewritten in place (same inode), as the kernel's file changes under an open fd.
  void set_pressure(double full_avg10) {
    total_ += 1'000'000;
    std::ofstream(root_ / "proc/pressure/memory", std::ios::in | std::ios::out | std::ios::trunc)
        << pressure(full_avg10, total_);
  }
  testing::DbusDaemonFixture bus_;
  fs::path root_;
  uint64_t total_ = 40'000'000;
};

TEST_F(NotifyDaemon, ThreeRisesOfPressureAreOneNotificationUpdatedInPlaceNamingTheTopApp) {
  test::NotificationServerDouble server(bus_.address());
  ASSERT_TRUE(server.ready());
  set_pressure(0.5);
  test::Subprocess guardian(
      {GUARDIAN_BINARY, "run", "--host-root", root_.string(), "--uid", "1000", "--policy",
       (root_ / "policy.toml").string(), "--state-file", (root_ / "state.json").string(), "--log", "stderr",
       "--quiet"},
      {"DBUS_SESSION_BUS_ADDRESS=" + bus_.address(), "XDG_DATA_DIRS=", "XDG_DATA_HOME=", "HOME=/home/alice"});
  ASSERT_NE(guardian.wait_for("started", 10s), "") << guardian.stderr_text();

  for (size_t rise = 1; rise <= 3; ++rise) {
    set_pressure(35.0);
    ASSERT_NE(guardian.wait_for("level normal -> tight", 10s), "")
        << "rise " << rise << guardian.stderr_text();
    const std::string result = guardian.wait_for("desktop notification", 10s);
    ASSERT_NE(result, "") << guardian.stderr_text();
    EXPECT_NE(result.find(rise == 1 ? " shown)" : " updated)"), std::string::npos) << result;
    set_pressure(2.0);
    ASSERT_NE(guardian.wait_for("level tight -> normal", 10s), "") << guardian.stderr_text();
    std::this_thread::sleep_for(1s);  // past the notify interval
  }
  guardian.signal(SIGTERM);
  EXPECT_EQ(guardian.wait_exit(10s), 0) << guardian.stderr_text();

  const auto calls = server.notify_calls();
  ASSERT_EQ(calls.size(), 3U) << guardian.stderr_text();
  EXPECT_EQ(calls[0].replaces_id, 0U);
  EXPECT_EQ(calls[1].replaces_id, calls[0].returned_id);
  EXPECT_EQ(calls[2].replaces_id, calls[0].returned_id);
  const auto open = server.open();
  ASSERT_EQ(open.size(), 1U);  // one notification on the desktop, not three
  EXPECT_EQ(open.begin()->second.updates, 2);
  EXPECT_EQ(open.begin()->second.summary, "Memory is tight");
  // Nautilus by its desktop file's Name= ("Files"), the sizes of the fixture's scopes.
  EXPECT_EQ(open.begin()->second.body,
            "Close what you do not need.\nLargest apps: Firefox 8.3 GB, Evolution 1.5 GB, Files 420 MB");
  EXPECT_EQ(calls[0].app_name, "guardian");
  EXPECT_EQ(calls[0].hints.at("urgency"), "1");
}

}  // namespace
}  // namespace guardian
