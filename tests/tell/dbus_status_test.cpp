// The D-Bus view of a tick (status_from_tick) and how `guardian status` renders it.
#include "tell/dbus_status.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/tick_fixture.h"

namespace guardian {
namespace {

TEST(DbusStatus, FromAFullTick) {
  testing::TickFixture fixture;
  fixture.at_level(1, "elevated", "full avg10 of user.slice 86.09 > 60", {"elevated/slice.set-memory-high"});
  const DaemonStatus status = status_from_tick(fixture.view());
  EXPECT_EQ(status.level, "elevated");
  EXPECT_EQ(status.level_index, 1u);
  EXPECT_EQ(status.mode, "full");
  EXPECT_EQ(status.mode_reason, "");
  EXPECT_EQ(status.policy_path, "/home/user/.config/guardian/policy.toml");
  EXPECT_DOUBLE_EQ(status.system_some_avg10, 41.52);
  EXPECT_DOUBLE_EQ(status.system_full_avg10, 35.18);
  ASSERT_EQ(status.watched.size(), 2u);
  const WatchedCgroupStatus expected{std::string(testing::kUserManager) + "/user.slice",
                                     86.09,
                                     80.0,
                                     20.0,
                                     true,
                                     12.0,
                                     8.0,
                                     testing::kJellyfinScope};
  EXPECT_EQ(status.watched[0], expected);
  EXPECT_EQ(status.watched[1].seconds_until_kill, std::nullopt);
  EXPECT_EQ(status.watched[1].likely_victim, "");
  EXPECT_EQ(status.explanation, "full avg10 of user.slice 86.09 > 60");
  EXPECT_EQ(status.version, GUARDIAN_VERSION);
}

TEST(DbusStatus, SystemOnlyTickWithoutModelOrPolicy) {
  // What the loop has in system-only mode before a policy is in force: most pointers null.
  Snapshot snapshot;
  snapshot.system_pressure = Psi{{0.52, 0.31, 0.10, 1234567}, {0.11, 0.05, 0.01, 234567}};
  HostLayout layout;
  layout.cgroup2_mount = "/sys/fs/cgroup/unified";
  layout.system_only_reason = "cgroup v2 at /sys/fs/cgroup/unified has no memory controller (hybrid host)";
  TickView tick;
  tick.snapshot = &snapshot;
  tick.layout = &layout;
  const DaemonStatus status = status_from_tick(tick);
  EXPECT_EQ(status.level, "normal");
  EXPECT_EQ(status.level_index, 0u);
  EXPECT_EQ(status.mode, "system-only");
  EXPECT_EQ(status.mode_reason, layout.system_only_reason);
  EXPECT_TRUE(status.watched.empty());
  EXPECT_EQ(status.policy_path, "");
  EXPECT_DOUBLE_EQ(status.system_full_avg10, 0.11);

  const std::string table = format_status_table(status);
  EXPECT_EQ(
      table,
      "level:    normal\n"
      "mode:     system-only — cgroup v2 at /sys/fs/cgroup/unified has no memory controller (hybrid host)\n"
      "policy:   \n"
      "system:   memory pressure some 0.52%, full 0.11% (avg10)\n"
      "loop:     timer read at most 0.00 s late over the last minute\n"
      "\n"
      "watched cgroups: none (systemd-oomd watches nothing guardian can see)\n"
      "\n"
      "active actions: none\n");
  const auto json = status_to_json(status);
  EXPECT_EQ(json["mode_reason"], layout.system_only_reason);
  EXPECT_TRUE(json["watched_cgroups"].is_array());
  EXPECT_TRUE(json["watched_cgroups"].empty());
  EXPECT_TRUE(json["active_actions"].empty());
}

// What wakes the loop between ticks (daemon/helper_link.h's wake_source()), as the loop hands it
// over: the WakeSource property, a "wake:" line and "wake_source" in --json.
TEST(DbusStatus, SaysWhatWakesTheLoopBetweenTicks) {
  testing::TickFixture fixture;
  TickView tick = fixture.view();
  const std::string source =
      "guardian-helper's pressure watches on 1 of 4 watched cgroup(s), guardian's own PSI triggers on the "
      "rest";
  tick.wake_source = source;
  const DaemonStatus status = status_from_tick(tick);
  EXPECT_EQ(status.wake_source, source);
  EXPECT_NE(format_status_table(status).find("\nwake:     " + source + "\n"), std::string::npos)
      << format_status_table(status);
  EXPECT_EQ(status_to_json(status)["wake_source"], source);
}

TEST(DbusStatus, TableColumnsLineUpOnTheLongestPath) {
  testing::TickFixture fixture;
  fixture.dry_run = true;
  const std::string table = format_status_table(status_from_tick(fixture.view()));
  EXPECT_NE(
      table.find("policy:   /home/user/.config/guardian/policy.toml  [dry run: decides, changes nothing]\n"),
      std::string::npos)
      << table;
  // Header and rows: FULL/LIMIT starts at the same column in each.
  const std::string user_slice = std::string(testing::kUserManager) + "/user.slice";
  const auto header = table.find("CGROUP");
  ASSERT_NE(header, std::string::npos);
  const auto header_line_end = table.find('\n', header);
  const std::string header_line = table.substr(header, header_line_end - header);
  const auto row = table.find(user_slice + " ");
  ASSERT_NE(row, std::string::npos);
  const std::string row_line = table.substr(row, table.find('\n', row) - row);
  // "app.slice" is shorter than "user.slice": padded to the same width.
  const auto app = table.find(std::string(testing::kUserManager) + "/app.slice ");
  ASSERT_NE(app, std::string::npos);
  const std::string app_line = table.substr(app, table.find('\n', app) - app);
  EXPECT_EQ(header_line.find("FULL/LIMIT") + std::string("FULL/LIMIT").size(),
            row_line.find("86.09/80%") + std::string("86.09/80%").size());
  EXPECT_EQ(app_line.find("3.12/80%") + std::string("3.12/80%").size(),
            row_line.find("86.09/80%") + std::string("86.09/80%").size());
}

}  // namespace
}  // namespace guardian
