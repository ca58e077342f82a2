// Journal entries -> records: guardian's events by MESSAGE_ID, systemd-oomd's "Killed …" line,
// the managers' entries, the kernel's OOM lines. Texts as systemd 252/257 and Linux 6.x print them
// (sources in tests/fixtures/journal/make_incident_export.py).
#include "review/journal_entry.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/event.h"

namespace guardian::review {
namespace {

constexpr const char* kUm = "/user.slice/user-1000.slice/user@1000.service";

TEST(JournalEntry, OomdKillLineGivesVictimWatchedCgroupPressureAndLimit) {
  const std::string message = std::string("Killed ") + kUm +
                              "/container.slice/immich-ml.service due to memory " + "pressure for " + kUm +
                              "/container.slice being 92.47% > 90.00% for > 20s with " + "reclaim activity";
  auto record = parse_journal_entry({{"MESSAGE", message}, {"SYSLOG_IDENTIFIER", "systemd-oomd"}}, 42);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->kind, JournalRecord::Kind::OomdKill);
  EXPECT_EQ(record->time_us, 42);
  EXPECT_EQ(record->event, "oomd-kill");
  EXPECT_EQ(record->cgroup, std::string(kUm) + "/container.slice/immich-ml.service");
  EXPECT_EQ(record->watched_cgroup, std::string(kUm) + "/container.slice");
  EXPECT_DOUBLE_EQ(*record->pressure_percent, 92.47);
  EXPECT_DOUBLE_EQ(*record->limit_percent, 90.0);
  EXPECT_DOUBLE_EQ(*record->seconds_over, 20.0);
  EXPECT_EQ(record->kill_reason, "memory-pressure");
}

TEST(JournalEntry, OomdSwapKillAndTheNewerMarkedForm) {
  auto swap = parse_journal_entry(
      {{"_COMM", "systemd-oomd"},
       {"MESSAGE",
        "Killed /user.slice/user-1000.slice/user@1000.service/app.slice/x.scope due to memory used "
        "(31206125568) / total (32768000000) and swap used (7340032000) / total (8589934592) being more "
        "than 90.00%"}},
      1);
  ASSERT_TRUE(swap);
  EXPECT_EQ(swap->kill_reason, "memory-used");
  EXPECT_DOUBLE_EQ(*swap->limit_percent, 90.0);
  EXPECT_FALSE(swap->pressure_percent);
  // systemd 258 logs the decision before its prekill hooks run.
  auto marked = parse_journal_entry(
      {{"SYSLOG_IDENTIFIER", "systemd-oomd"},
       {"MESSAGE",
        "Marked /a.slice/b.service for killing due to memory pressure for /a.slice being 81.00% > "
        "80.00% for > 20s with reclaim activity"}},
      1);
  ASSERT_TRUE(marked);
  EXPECT_EQ(marked->cgroup, "/a.slice/b.service");
  // oomd's other lines are not kills.
  EXPECT_FALSE(parse_journal_entry({{"SYSLOG_IDENTIFIER", "systemd-oomd"},
                                    {"MESSAGE",
                                     "Failed to connect to /run/systemd/io.system.ManagedOOM: "
                                     "Connection refused"}},
                                   1));
}

TEST(JournalEntry, ManagerEntriesNameTheUnitAndCount) {
  auto oomd =
      parse_journal_entry({{"MESSAGE_ID", "d989611b15e44c9dbf31e3c81256e4ed"},
                           {"USER_UNIT", "jellyfin.service"},
                           {"N_PROCESSES", "14"},
                           {"MESSAGE", "jellyfin.service: systemd-oomd killed 14 process(es) in this unit."}},
                          7);
  ASSERT_TRUE(oomd);
  EXPECT_EQ(oomd->kind, JournalRecord::Kind::ManagerOomdKill);
  EXPECT_EQ(oomd->unit, "jellyfin.service");
  EXPECT_EQ(oomd->processes, 14u);
  auto system = parse_journal_entry(
      {{"MESSAGE_ID", "fe6faa94e7774663a0da52717891d8ef"}, {"UNIT", "postgresql.service"}}, 7);
  ASSERT_TRUE(system);
  EXPECT_EQ(system->kind, JournalRecord::Kind::ManagerKernelOom);
  EXPECT_EQ(system->unit, "postgresql.service");
  EXPECT_EQ(system->killer, "kernel");
  // Without a unit there is nothing to attribute the kill to.
  EXPECT_FALSE(parse_journal_entry({{"MESSAGE_ID", "d989611b15e44c9dbf31e3c81256e4ed"}}, 7));
}

TEST(JournalEntry, KernelContextAndKillLines) {
  auto context = parse_journal_entry(
      {{"SYSLOG_IDENTIFIER", "kernel"},
       {"MESSAGE",
        std::string(
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=") +
            kUm + "/container.slice,task_memcg=" + kUm +
            "/container.slice/jellyfin.service,task=ffmpeg,pid=48213,uid=1000"}},
      3);
  ASSERT_TRUE(context);
  EXPECT_EQ(context->kind, JournalRecord::Kind::KernelOomContext);
  EXPECT_EQ(context->pid, 48213u);
  EXPECT_EQ(context->task, "ffmpeg");
  EXPECT_EQ(context->cgroup, std::string(kUm) + "/container.slice/jellyfin.service");
  EXPECT_EQ(context->watched_cgroup, std::string(kUm) + "/container.slice");
  EXPECT_EQ(context->constraint, "CONSTRAINT_MEMCG");

  auto kill = parse_journal_entry(
      {{"_TRANSPORT", "kernel"},
       {"MESSAGE",
        "Out of memory: Killed process 977 (gnome-shell) total-vm:5912840kB, anon-rss:1861236kB, "
        "file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:6420kB oom_score_adj:0"}},
      3);
  ASSERT_TRUE(kill);
  EXPECT_EQ(kill->kind, JournalRecord::Kind::KernelOomKill);
  EXPECT_EQ(kill->pid, 977u);
  EXPECT_EQ(kill->task, "gnome-shell");
  EXPECT_EQ(kill->anon_rss_kb, 1861236u);
  EXPECT_EQ(kill->constraint, "CONSTRAINT_NONE");
  // The kernel's other OOM report lines are context a reader of dmesg wants, not events.
  EXPECT_FALSE(
      parse_journal_entry({{"SYSLOG_IDENTIFIER", "kernel"},
                           {"MESSAGE", "ffmpeg invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0"}},
                          3));
  // Only the kernel's transport or identifier counts: a program printing the same text is not the kernel.
  EXPECT_FALSE(parse_journal_entry(
      {{"SYSLOG_IDENTIFIER", "bash"}, {"MESSAGE", "Out of memory: Killed process 977 (gnome-shell)"}}, 3));
}

TEST(JournalEntry, GuardiansEventsByMessageIdWithTheirFigures) {
  JournalFields fields{{"MESSAGE_ID", std::string(message_id(EventType::LevelChanged))},
                       {"MESSAGE", "level normal -> elevated: …"},
                       {"GUARDIAN_LEVEL", "elevated"},
                       {"GUARDIAN_PREVIOUS_LEVEL", "normal"},
                       {"GUARDIAN_REASON", "seconds_until_kill of container.slice 41.00 < 120.00"},
                       {"GUARDIAN_CGROUP", std::string(kUm) + "/container.slice"},
                       {"GUARDIAN_FULL_AVG10", "46.12"},
                       {"GUARDIAN_OOMD_LIMIT_PERCENT", "90.00"},
                       {"GUARDIAN_SECONDS_UNTIL_KILL", "41.0"},
                       {"_BOOT_ID", "6f2a"}};
  auto record = parse_journal_entry(fields, 9);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->kind, JournalRecord::Kind::Guardian);
  EXPECT_EQ(record->event, "level-changed");
  EXPECT_EQ(record->boot_id, "6f2a");
  EXPECT_DOUBLE_EQ(*record->pressure_percent, 46.12);
  EXPECT_DOUBLE_EQ(*record->seconds_until_kill, 41.0);
  // A figure that is not a number is left out; the entry stays.
  fields["GUARDIAN_FULL_AVG10"] = "lots";
  fields["GUARDIAN_SECONDS_UNTIL_KILL"] = "nan";
  record = parse_journal_entry(fields, 9);
  ASSERT_TRUE(record);
  EXPECT_FALSE(record->pressure_percent);
  EXPECT_FALSE(record->seconds_until_kill);
  // Every MESSAGE_ID of the catalog is recognised, under its own name.
  for (EventType type : all_event_types()) {
    auto any = parse_journal_entry({{"MESSAGE_ID", std::string(message_id(type))}}, 1);
    ASSERT_TRUE(any) << event_name(type);
    EXPECT_EQ(any->event, event_name(type));
  }
  // guardian's own stderr lines (no MESSAGE_ID) and other programs' entries are not events.
  EXPECT_FALSE(
      parse_journal_entry({{"SYSLOG_IDENTIFIER", "guardian"}, {"MESSAGE", "guardian: level=normal"}}, 1));
  EXPECT_FALSE(parse_journal_entry({{"MESSAGE_ID", "39f53479d3a045ac8e11786248231fbf"}}, 1));
}

TEST(JournalExport, ReadsTextAndBinaryFieldsAndStopsAtACutOffOne) {
  std::string text = "__REALTIME_TIMESTAMP=100\nMESSAGE=one\n\n__REALTIME_TIMESTAMP=200\nMESSAGE\n";
  const std::string value = "two\nlines";
  for (int i = 0; i < 8; ++i) text += static_cast<char>(i == 0 ? value.size() : 0);
  text += value + "\nPRIORITY=3\n\n";
  auto parsed = parse_journal_export(text);
  EXPECT_EQ(parsed.error, "");
  ASSERT_EQ(parsed.entries.size(), 2u);
  EXPECT_EQ(parsed.entries[0].at("MESSAGE"), "one");
  EXPECT_EQ(parsed.entries[1].at("MESSAGE"), value);
  EXPECT_EQ(parsed.entries[1].at("PRIORITY"), "3");

  auto cut = parse_journal_export(text.substr(0, text.size() - 20));
  EXPECT_NE(cut.error.find("cut off"), std::string::npos) << cut.error;
  EXPECT_EQ(cut.entries.size(), 1u);
}

TEST(JournalExport, TheRecordedIncidentHasEveryKindOfEntry) {
  std::ifstream in(std::string(GUARDIAN_FIXTURES_DIR) + "/journal/incident.export", std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto parsed = parse_journal_export(buffer.str());
  ASSERT_EQ(parsed.error, "");
  ASSERT_EQ(parsed.entries.size(), 33u);
  std::map<JournalRecord::Kind, int> kinds;
  int skipped = 0;
  for (const auto& entry : parsed.entries) {
    auto record = parse_journal_entry(entry, std::stoll(entry.at("__REALTIME_TIMESTAMP")));
    if (record)
      ++kinds[record->kind];
    else
      ++skipped;
  }
  EXPECT_EQ(kinds[JournalRecord::Kind::Guardian], 20);
  EXPECT_EQ(kinds[JournalRecord::Kind::OomdKill], 3);
  EXPECT_EQ(kinds[JournalRecord::Kind::ManagerOomdKill], 3);
  EXPECT_EQ(kinds[JournalRecord::Kind::KernelOomContext], 1);
  EXPECT_EQ(kinds[JournalRecord::Kind::KernelOomKill], 1);
  EXPECT_EQ(kinds[JournalRecord::Kind::ManagerKernelOom], 1);
  // The USB line, the kernel's "invoked oom-killer" and "memory: usage" lines, the unit's failure.
  EXPECT_EQ(skipped, 4);
}

}  // namespace
}  // namespace guardian::review
