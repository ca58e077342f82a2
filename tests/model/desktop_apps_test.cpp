// The largest desktop apps from a real sample of the fixture desktop (fedora42-podman: firefox
// 8300 MB, Evolution 1500, Nautilus 420, Ptyxis 180 in app.slice, README.md of the fixture).
#include "model/desktop_apps.h"

#include <gtest/gtest.h>

#include "sense/sampler.h"

namespace guardian {
namespace {

constexpr const char* kUserManager = "/user.slice/user-1000.slice/user@1000.service";

TEST(LargestDesktopApps, TheAppScopesOfAppSliceLargestFirst) {
  HostRoot host(std::string(GUARDIAN_FIXTURES_DIR) + "/fedora42-podman");
  Sampler sampler(host, SamplerOptions{1000, true, 5});
  const Snapshot snapshot = sampler.sample();
  const auto apps = largest_desktop_apps(snapshot, kUserManager, 3);
  ASSERT_EQ(apps.size(), 3U);
  EXPECT_EQ(apps[0], (AppMemory{"app-gnome-firefox-2871.scope", 8299999232}));
  EXPECT_EQ(apps[1], (AppMemory{"app-gnome-org.gnome.Evolution-3412.scope", 1499996160}));
  EXPECT_EQ(apps[2], (AppMemory{"app-org.gnome.Nautilus-4120.scope", 419999744}));
  EXPECT_EQ(largest_desktop_apps(snapshot, kUserManager, 10).size(), 4U);
  EXPECT_TRUE(largest_desktop_apps(snapshot, "", 3).empty());  // system-only: no app.slice
}

TEST(LargestDesktopApps, OnlyApplicationLeavesBelowAppSlice) {
  Snapshot snapshot;
  const std::string app = std::string(kUserManager) + "/app.slice";
  auto add = [&](const std::string& path, uint64_t bytes, bool children = false) {
    CgroupSample sample;
    sample.path = path;
    sample.unit = path.substr(path.rfind('/') + 1);
    sample.memory.current_bytes = bytes;
    sample.has_children = children;
    snapshot.cgroups.push_back(sample);
  };
  add(app, 9'000'000'000, true);
  add(app + "/guardian.service", 8'000'000);                                       // not an app
  add(app + "/app-gnome.slice", 5'000'000'000, true);                              // a slice of apps
  add(app + "/app-gnome.slice/app-gnome-org.gnome.Maps-77.scope", 5'000'000'000);  // nested app: counted
  add(std::string(kUserManager) + "/session.slice/org.gnome.Shell@wayland.service", 2'000'000'000);
  add(app + "/app-gnome-firefox-2871.scope", 3'000'000'000);
  const auto apps = largest_desktop_apps(snapshot, kUserManager, 5);
  ASSERT_EQ(apps.size(), 2U);
  EXPECT_EQ(apps[0].unit, "app-gnome-org.gnome.Maps-77.scope");
  EXPECT_EQ(apps[1].unit, "app-gnome-firefox-2871.scope");
}

}  // namespace
}  // namespace guardian
