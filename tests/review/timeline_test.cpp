// The timeline: one row per kill however many parties logged it, guardian's state at the kill,
// and the --event/--unit filters.
#include "review/timeline.h"

#include <gtest/gtest.h>

namespace guardian::review {
namespace {

constexpr int64_t kSecond = 1'000'000;
const std::string kUm = "/user.slice/user-1000.slice/user@1000.service";

JournalRecord guardian_event(int64_t t, const std::string& event, const std::string& boot = "b1") {
  JournalRecord record;
  record.kind = JournalRecord::Kind::Guardian;
  record.time_us = t;
  record.event = event;
  record.boot_id = boot;
  return record;
}

JournalRecord oomd_line(int64_t t, const std::string& victim, const std::string& boot = "b1") {
  JournalRecord record;
  record.kind = JournalRecord::Kind::OomdKill;
  record.time_us = t;
  record.event = "oomd-kill";
  record.killer = "systemd-oomd";
  record.cgroup = kUm + "/" + victim;
  record.watched_cgroup = kUm + "/app.slice";
  record.pressure_percent = 88.02;
  record.limit_percent = 80;
  record.kill_reason = "memory-pressure";
  record.boot_id = boot;
  return record;
}

JournalRecord manager_line(int64_t t, const std::string& unit, uint64_t processes) {
  JournalRecord record;
  record.kind = JournalRecord::Kind::ManagerOomdKill;
  record.time_us = t;
  record.event = "oomd-kill";
  record.killer = "systemd-oomd";
  record.unit = unit;
  record.processes = processes;
  return record;
}

TEST(Timeline, OneOomdKillIsOneRowWithEverySightingFoldedIn) {
  TimelineBuilder builder;
  builder.add(guardian_event(100 * kSecond, "started"));
  JournalRecord heard = guardian_event(130 * kSecond, "oom-kill");
  heard.killer = "systemd-oomd";
  heard.cgroup = kUm + "/app.slice/app-gnome-firefox-4242.scope";
  heard.level = "critical";
  heard.active_actions = "elevated/log,critical/notify";
  builder.add(heard);
  builder.add(oomd_line(130 * kSecond + 60'000, "app.slice/app-gnome-firefox-4242.scope"));
  builder.add(manager_line(130 * kSecond + 150'000, "app-gnome-firefox-4242.scope", 37));
  auto rows = builder.finish();
  ASSERT_EQ(rows.size(), 2u);
  const TimelineRow& kill = rows[1];
  EXPECT_EQ(kill.event, "oomd-kill");
  EXPECT_EQ(kill.time_us, 130 * kSecond);  // the first sighting
  EXPECT_EQ(kill.unit, "app-gnome-firefox-4242.scope");
  EXPECT_DOUBLE_EQ(*kill.full_avg10, 88.02);
  EXPECT_EQ(kill.seconds_until_kill, 0.0);
  EXPECT_EQ(kill.action, "guardian at critical (2 actions)");
  EXPECT_EQ(kill.kill->active_actions, (std::vector<std::string>{"elevated/log", "critical/notify"}));
  EXPECT_EQ(kill.result, "killed 37 processes");
  ASSERT_TRUE(kill.kill);
  EXPECT_EQ(kill.kill->seen_by, (std::vector<std::string>{"guardian", "systemd-oomd", "manager"}));
  EXPECT_TRUE(kill.kill->guardian_running);
  EXPECT_EQ(kill.kill->guardian_level, "critical");
}

TEST(Timeline, AKillWhileGuardianIsStoppedOrInAnotherBootSaysSo) {
  TimelineBuilder builder;
  builder.add(guardian_event(10 * kSecond, "started", "b1"));
  builder.add(guardian_event(20 * kSecond, "stopping", "b1"));
  builder.add(oomd_line(30 * kSecond, "app.slice/a.scope", "b1"));
  builder.add(guardian_event(40 * kSecond, "started", "b1"));
  builder.add(oomd_line(50 * kSecond, "app.slice/b.scope", "b1"));
  // guardian never said "stopping": the machine rebooted. In the new boot it is not running.
  builder.add(oomd_line(60 * kSecond, "app.slice/c.scope", "b2"));
  auto rows = builder.finish();
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[2].action, "guardian not running");
  EXPECT_EQ(rows[4].action, "guardian at normal");  // running, and it did not report the kill
  EXPECT_EQ(rows[5].action, "guardian not running");
  EXPECT_EQ(rows[2].result, "killed");  // no manager entry: no count
}

TEST(Timeline, TwoKillsOfTheSameUnitFarApartOrTwiceByOneOomdAreTwoRows) {
  TimelineBuilder builder;
  builder.add(oomd_line(0, "app.slice/a.scope"));
  builder.add(oomd_line(5 * kSecond, "app.slice/a.scope"));  // oomd never logs one kill twice
  builder.add(manager_line(5 * kSecond + 100'000, "a.scope", 2));
  builder.add(oomd_line(40 * kSecond, "app.slice/a.scope"));  // beyond the merge window
  auto rows = builder.finish();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].result, "killed");
  EXPECT_EQ(rows[1].result, "killed 2 processes");  // the manager's entry joins the nearest kill
  EXPECT_EQ(rows[2].time_us, 40 * kSecond);
}

TEST(Timeline, KernelLinesMergeByPidNotByUnit) {
  auto context = [](int64_t t, uint64_t pid) {
    JournalRecord record;
    record.kind = JournalRecord::Kind::KernelOomContext;
    record.time_us = t;
    record.event = "kernel-oom-kill";
    record.killer = "kernel";
    record.pid = pid;
    record.task = "ffmpeg";
    record.cgroup = kUm + "/container.slice/jellyfin.service";
    record.constraint = "CONSTRAINT_MEMCG";
    return record;
  };
  auto kill = [](int64_t t, uint64_t pid) {
    JournalRecord record;
    record.kind = JournalRecord::Kind::KernelOomKill;
    record.time_us = t;
    record.event = "kernel-oom-kill";
    record.killer = "kernel";
    record.pid = pid;
    record.task = "ffmpeg";
    record.anon_rss_kb = 2861236;
    record.constraint = "CONSTRAINT_MEMCG";
    return record;
  };
  TimelineBuilder builder;
  builder.add(context(0, 100));
  builder.add(kill(1, 100));
  builder.add(context(2 * kSecond, 101));
  builder.add(kill(2 * kSecond + 1, 101));
  auto rows = builder.finish();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].unit, "jellyfin.service");
  EXPECT_EQ(rows[0].result, "killed ffmpeg (pid 100), 2794 MiB anon, at its cgroup's memory limit");
  EXPECT_EQ(rows[1].kill->pid, 101u);
}

TEST(Timeline, FollowHoldsAKillUntilItsSightingsAreIn) {
  TimelineBuilder builder;
  builder.add(guardian_event(0, "started"));
  builder.add(oomd_line(1 * kSecond, "app.slice/a.scope"));
  builder.add(guardian_event(2 * kSecond, "level-changed"));
  auto ready = builder.take_ready(3 * kSecond);
  ASSERT_EQ(ready.size(), 1u);  // the kill may still get its manager entry; the row after it waits
  EXPECT_EQ(ready[0].event, "started");
  builder.add(manager_line(3 * kSecond, "a.scope", 5));
  ready = builder.take_ready(1 * kSecond + TimelineBuilder::kMergeWindowUs);
  ASSERT_EQ(ready.size(), 2u);
  EXPECT_EQ(ready[0].result, "killed 5 processes");
  EXPECT_EQ(ready[1].event, "level-changed");
}

TEST(Timeline, StateBeforeSinceComesFromTheLookBack) {
  std::vector<JournalRecord> before = {guardian_event(1, "started"), guardian_event(2, "level-changed")};
  before[1].level = "elevated";
  GuardianState state = guardian_state_after(before);
  EXPECT_TRUE(state.running);
  EXPECT_EQ(state.level, "elevated");
  TimelineBuilder builder(state);
  builder.add(oomd_line(3, "app.slice/a.scope"));
  EXPECT_EQ(builder.finish()[0].action, "guardian at elevated");
}

TEST(Timeline, ShortCgroupNamesAreRelativeToTheUserManager) {
  EXPECT_EQ(short_cgroup_name(kUm + "/container.slice/jellyfin.service"), "container.slice/jellyfin.service");
  EXPECT_EQ(short_cgroup_name(kUm), kUm);
  EXPECT_EQ(short_cgroup_name("/system.slice/postgresql.service"), "/system.slice/postgresql.service");
}

TEST(Timeline, FilterByEventUnitAndTime) {
  TimelineRow kill;
  kill.time_us = 50;
  kill.event = "oomd-kill";
  kill.cgroup = kUm + "/container.slice/jellyfin.service";
  kill.unit = "jellyfin.service";
  kill.kill.emplace();
  TimelineRow level;
  level.time_us = 60;
  level.event = "level-changed";
  level.cgroup = kUm + "/container.slice";

  TimelineFilter filter;
  EXPECT_TRUE(filter.matches(kill));
  filter.events = {"oom-kill"};
  EXPECT_TRUE(filter.matches(kill));
  EXPECT_FALSE(filter.matches(level));
  filter.events = {"kernel-oom-kill", "level-changed"};
  EXPECT_FALSE(filter.matches(kill));
  EXPECT_TRUE(filter.matches(level));

  filter.events.clear();
  filter.units = {"jellyfin"};  // jellyfin.service, as journalctl -u reads it
  EXPECT_TRUE(filter.matches(kill));
  EXPECT_FALSE(filter.matches(level));
  filter.units = {"container.slice"};
  EXPECT_TRUE(filter.matches(kill));
  EXPECT_TRUE(filter.matches(level));
  filter.units = {"app-gnome-*"};
  EXPECT_FALSE(filter.matches(kill));

  filter.units.clear();
  filter.since_us = 55;
  EXPECT_FALSE(filter.matches(kill));
  EXPECT_TRUE(filter.matches(level));
  filter.until_us = 59;
  EXPECT_FALSE(filter.matches(level));
}

}  // namespace
}  // namespace guardian::review
