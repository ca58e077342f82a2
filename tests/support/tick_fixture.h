// A finished tick as the daemon would hand it to its components, modelled on the incident
// machine (seed 002: Fedora Workstation 42, GNOME, rootless podman, uid 1000):
//  - oomd watches every slice inside user@1000.service at 80% for 20 s (Fedora's
//    user/slice.d/10-oomd-per-slice-defaults.conf, oomd.conf.d DefaultMemoryPressureDurationSec=20s);
//  - the inner user.slice (where rootless podman puts libpod-*.scope) is at 86.09% full avg10,
//    the value of the 21 Nov kill, 12 s over the limit, so oomd kills in 8 s; its largest
//    scope (Jellyfin) is the likely victim;
//  - app.slice is calm.
// For tests of tell/ components only: the values are typed in, not modelled.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "component/component.h"

namespace guardian::testing {

inline constexpr const char* kUserManager = "/user.slice/user-1000.slice/user@1000.service";
inline constexpr const char* kJellyfinScope =
    "/user.slice/user-1000.slice/user@1000.service/user.slice/"
    "libpod-3f2a9c1e0b7d4e5f8a6b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f.scope";

struct TickFixture {
  Snapshot snapshot;
  HostLayout layout;
  std::vector<OomdCgroupState> oomd;
  Policy policy;
  LadderState ladder;
  std::string level_name = "normal";
  std::string explanation = "no level's entry condition holds";
  std::vector<std::string> active_actions;
  bool dry_run = false;

  TickFixture() {
    layout.cgroup2_mount = "/sys/fs/cgroup";
    layout.memory_controller = true;
    layout.uid = 1000;
    layout.user_manager_path = kUserManager;
    // /proc/pressure/memory under the same squeeze.
    snapshot.system_pressure = Psi{{41.52, 30.07, 12.33, 98765432}, {35.18, 25.41, 10.02, 87654321}};
    policy.source = "/home/user/.config/guardian/policy.toml";

    OomdCgroupState user_slice;
    user_slice.rule =
        WatchedCgroup{std::string(kUserManager) + "/user.slice", "user.slice", 80.0, std::chrono::seconds(20),
                      "/usr/lib/systemd/user/slice.d/10-oomd-per-slice-defaults.conf"};
    user_slice.present = true;
    user_slice.full_avg10 = 86.09;
    user_slice.limit_fraction = 86.09 / 80.0;
    user_slice.over_limit = true;
    user_slice.seconds_over = 12.0;
    user_slice.seconds_until_kill = 8.0;
    user_slice.reclaim_recent = true;
    user_slice.likely_victim = kJellyfinScope;
    oomd.push_back(user_slice);

    OomdCgroupState app_slice;
    app_slice.rule =
        WatchedCgroup{std::string(kUserManager) + "/app.slice", "app.slice", 80.0, std::chrono::seconds(20),
                      "/usr/lib/systemd/user/slice.d/10-oomd-per-slice-defaults.conf"};
    app_slice.present = true;
    app_slice.full_avg10 = 3.12;
    app_slice.limit_fraction = 3.12 / 80.0;
    oomd.push_back(app_slice);
  }

  [[nodiscard]] TickView view() const {
    TickView tick;
    tick.snapshot = &snapshot;
    tick.layout = &layout;
    tick.oomd = &oomd;
    tick.policy = &policy;
    tick.ladder = &ladder;
    tick.level_name = level_name;
    tick.explanation = explanation;
    tick.active_actions = active_actions;
    tick.dry_run = dry_run;
    return tick;
  }

  // The ladder at level `index` of a two-level policy ("elevated", "critical").
  void at_level(size_t index, std::string name, std::string why, std::vector<std::string> actions) {
    ladder.level = index;
    level_name = std::move(name);
    explanation = std::move(why);
    active_actions = std::move(actions);
  }
};

}  // namespace guardian::testing
