// `guardian doctor`'s systemd part against the doubles: the incident machine before the fix —
// container.slice installed but MemoryHigh lowered, Jellyfin a quadlet in app.slice, a
// `podman run` container in the user manager's user.slice named via containers.json, and oomd's
// live list missing the user manager (#43174).
#include "bus/doctor_systemd.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/dbus_daemon.h"
#include "support/scratch_dir.h"
#include "support/systemd_double.h"
#include "support/systemd_fixtures.h"

namespace guardian {
namespace {

constexpr uint64_t GiB = 1ULL << 30;
const std::string kManager = "/user.slice/user-1000.slice/user@1000.service";
const std::string kId = "3f2a9c1e5b7d4a6f8e0c2b4d6f8a0c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a";

TEST(DoctorSystemd, FindingsWithNextSteps) {
  test::DbusDaemon daemon;
  ASSERT_TRUE(daemon.running()) << daemon.error();
  UnitProperties slice = test::incident_container_slice();
  slice.memory_high = 6 * GiB;  // lowered; the policy wants 8G
  UnitProperties jellyfin = test::incident_jellyfin_service();
  UnitProperties scope;
  scope.name = "libpod-" + kId + ".scope";
  scope.load_state = "loaded";
  scope.slice = "user.slice";
  UnitProperties gnome;
  gnome.name = "org.gnome.Shell@wayland.service";
  gnome.load_state = "loaded";
  gnome.slice = "session.slice";
  test::SystemdManagerDouble systemd(daemon.address(), {slice, jellyfin, scope, gnome});
  std::ifstream dump_file(std::string(GUARDIAN_SOURCE_DIR) + "/tests/fuzz/corpus/oomd_dump/fedora42_257.txt");
  std::string dump((std::istreambuf_iterator<char>(dump_file)), std::istreambuf_iterator<char>());
  test::OomdDouble oomd(daemon.address(), dump);

  test::ScratchDir home("home");
  const std::string store = home / ".local/share/containers/storage/overlay-containers";
  std::filesystem::create_directories(store);
  std::filesystem::copy_file(
      std::string(GUARDIAN_SOURCE_DIR) + "/tests/fuzz/corpus/podman_name/containers.json",
      store + "/containers.json");

  bus::DoctorSystemdInput input;
  input.user_bus = bus::BusAddress::at(daemon.address());
  input.system_bus = bus::BusAddress::at(daemon.address());
  input.wanted = {8 * GiB, 10 * GiB};
  input.dropin_rules = {
      {kManager, "user@1000.service", 50.0, std::chrono::seconds(20), "user@.service.d"},
      {kManager + "/app.slice", "app.slice", 80.0, std::chrono::seconds(20), "slice.d"},
      {kManager + "/container.slice", "container.slice", 80.0, std::chrono::seconds(20), "slice.d"}};
  input.user_manager_path = kManager;
  input.home = home.path();
  auto report = bus::doctor_systemd(HostRoot(), input);

  std::string all;
  for (const auto& finding : report.findings) {
    all += std::string(verdict_name(finding.verdict)) + " " + finding.topic + ": " + finding.summary +
           " -> " + finding.next_step + "\n";
  }
  ASSERT_EQ(report.containers.size(), 2u) << all;
  // The user's 6G is below the policy's 8G: guardian would raise it (never lower it).
  EXPECT_NE(all.find("info container.slice: container.slice limits: MemoryHigh 6.00 GiB: would raise: the "
                     "user's 6.00 GiB -> the policy's 8.00 GiB"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("-> guardian adopt jellyfin"), std::string::npos) << all;
  // The scope's name comes from containers/storage, without calling podman.
  EXPECT_NE(all.find("podman container jellyfin (libpod-"), std::string::npos) << all;
  EXPECT_NE(all.find("problem systemd-oomd"), std::string::npos) << all;
  EXPECT_NE(all.find("#43174"), std::string::npos) << all;
  EXPECT_EQ(all.find("org.gnome.Shell"), std::string::npos) << all;
}

TEST(DoctorSystemd, NoBusIsAWarningNotACrash) {
  bus::DoctorSystemdInput input;
  input.user_bus = bus::BusAddress::at("unix:path=/nonexistent/guardian-test-bus");
  input.system_bus = input.user_bus;
  input.timeout = std::chrono::milliseconds(500);
  auto report = bus::doctor_systemd(HostRoot(), input);
  ASSERT_GE(report.findings.size(), 2u);
  for (const auto& finding : report.findings)
    EXPECT_NE(finding.verdict, Finding::Verdict::Ok) << finding.summary;
}

}  // namespace
}  // namespace guardian
