// OOM kills from the Killed signal, the journal and memory.events, merged into one event each.
// Journal entries: the fields systemd's manager writes (src/core/unit.c, unit_log_* with
// SD_MESSAGE_UNIT_OOMD_KILL_STR / SD_MESSAGE_UNIT_OUT_OF_MEMORY_STR); read back from a real
// systemd-journald started for the test (tests/support/journald.h).
#include "sense/kill_watch.h"

#include <gtest/gtest.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <thread>

#include "support/journald.h"

namespace guardian {
namespace {

using namespace std::chrono_literals;
const std::string kApp = "/user.slice/user-1000.slice/user@1000.service/app.slice";

TEST(KillWatch, JournalFieldsOfOomdAndKernelKills) {
  const MonoTime now{};
  auto oomd = kill_from_journal_fields({{"MESSAGE_ID", "d989611b15e44c9dbf31e3c81256e4ed"},
                                        {"USER_UNIT", "jellyfin.service"},
                                        {"N_PROCESSES", "12"}},
                                       now);
  ASSERT_TRUE(oomd.has_value());
  EXPECT_EQ(oomd->killer, KillSeen::Killer::SystemdOomd);
  EXPECT_EQ(oomd->unit, "jellyfin.service");
  EXPECT_EQ(oomd->processes, 12u);
  auto kernel = kill_from_journal_fields(
      {{"MESSAGE_ID", "fe6faa94e7774663a0da52717891d8ef"}, {"UNIT", "user@1000.service"}}, now);
  ASSERT_TRUE(kernel.has_value());
  EXPECT_EQ(kernel->killer, KillSeen::Killer::Kernel);
  EXPECT_EQ(kernel->unit, "user@1000.service");
  EXPECT_FALSE(kill_from_journal_fields(
      {{"MESSAGE_ID", "39f53479d3a045ac8e11786248231fbf"}, {"UNIT", "x.service"}}, now));
  EXPECT_FALSE(kill_from_journal_fields({{"MESSAGE_ID", "d989611b15e44c9dbf31e3c81256e4ed"}}, now));
}

CgroupSample cgroup(const std::string& path, uint64_t oom_kill) {
  CgroupSample sample;
  sample.path = path;
  sample.unit = path.substr(path.rfind('/') + 1);
  sample.memory.events_oom_kill = oom_kill;
  return sample;
}

TEST(KillWatch, MemoryEventsRiseIsAttributedToTheDeepestCgroup) {
  // memory.events is hierarchical: one kill in jellyfin.service counts in app.slice too.
  Snapshot before;
  before.cgroups = {cgroup(kApp, 1), cgroup(kApp + "/jellyfin.service", 1),
                    cgroup(kApp + "/immich.service", 0)};
  Snapshot after;
  after.cgroups = {cgroup(kApp, 3), cgroup(kApp + "/jellyfin.service", 3),
                   cgroup(kApp + "/immich.service", 0)};
  auto kills = kills_from_memory_events(before, after);
  ASSERT_EQ(kills.size(), 1u);
  EXPECT_EQ(kills[0].cgroup, kApp + "/jellyfin.service");
  EXPECT_EQ(kills[0].processes, 2u);
  EXPECT_EQ(kills[0].killer, KillSeen::Killer::Kernel);
  EXPECT_TRUE(kills_from_memory_events(after, after).empty());
}

TEST(KillWatch, SignalThenJournalIsOneKill) {
  KillMerger merger;
  const MonoTime t0 = MonoTime{} + 1000s;
  KillSeen signal{KillSeen::Killer::SystemdOomd,
                  KillSeen::Source::OomdSignal,
                  kApp + "/jellyfin.service",
                  "",
                  "memory-pressure",
                  std::nullopt,
                  t0};
  auto first = merger.offer(signal);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->unit, "jellyfin.service");
  KillSeen journal{KillSeen::Killer::SystemdOomd,
                   KillSeen::Source::Journal,
                   "",
                   "jellyfin.service",
                   "memory-pressure",
                   12,
                   t0 + 100ms};
  EXPECT_FALSE(merger.offer(journal).has_value());
  // A kernel kill of the same unit is a different kill; so is oomd again after the window.
  KillSeen kernel = journal;
  kernel.killer = KillSeen::Killer::Kernel;
  EXPECT_TRUE(merger.offer(kernel).has_value());
  journal.seen = t0 + 30s;
  EXPECT_TRUE(merger.offer(journal).has_value());

  auto event = kill_event(*first, "critical", {"critical/slice.set-memory-high"});
  EXPECT_EQ(event.type, EventType::OomKill);
  EXPECT_NE(event.message.find("systemd-oomd killed jellyfin.service"), std::string::npos) << event.message;
  auto has = [&](const std::string& name, const std::string& value) {
    for (const auto& [key, field] : event.fields) {
      if (key == name) return field == value;
    }
    return false;
  };
  EXPECT_TRUE(has("KILLER", "systemd-oomd"));
  EXPECT_TRUE(has("LEVEL", "critical"));
  EXPECT_TRUE(has("ACTIVE_ACTIONS", "critical/slice.set-memory-high"));
  EXPECT_TRUE(has("SEEN_BY", "dbus-signal"));
}

// Seen in the VM test bed (helper run, s21): the kernel killed oomhog-1.service, a collected
// transient unit; guardian-helper relayed the kill in the leaf, and by the next sample systemd had
// removed the leaf, so memory.events' rise showed in app.slice. One kill, told once, in either order.
TEST(KillWatch, AKillCountedInTheParentAfterItsLeafWasRemovedIsTheHelpersKill) {
  const MonoTime t0 = MonoTime{} + 500s;
  KillSeen helper{KillSeen::Killer::Kernel, KillSeen::Source::Helper, kApp + "/oomhog-1.service",
                  "oomhog-1.service", "oom-kill", 1, t0};
  KillSeen counted{KillSeen::Killer::Kernel, KillSeen::Source::MemoryEvents, kApp, "app.slice",
                   "oom-kill", 1, t0 + 900ms};
  {
    KillMerger merger;
    ASSERT_TRUE(merger.offer(helper).has_value());
    EXPECT_FALSE(merger.offer(counted).has_value());
  }
  {
    KillMerger merger;  // the sample came first (the relay waited behind a busy loop)
    ASSERT_TRUE(merger.offer(counted).has_value());
    EXPECT_FALSE(merger.offer(helper).has_value());
  }
  {
    KillMerger merger;  // the helper could not resolve the removed leaf at all
    KillSeen unresolved = helper;
    unresolved.cgroup.clear();
    unresolved.unit.clear();
    ASSERT_TRUE(merger.offer(unresolved).has_value());
    EXPECT_FALSE(merger.offer(counted).has_value());
  }
  {
    KillMerger merger;  // a kill elsewhere (a sibling slice) is another kill
    KillSeen elsewhere = counted;
    elsewhere.cgroup = "/user.slice/user-1000.slice/user@1000.service/session.slice";
    elsewhere.unit = "session.slice";
    ASSERT_TRUE(merger.offer(helper).has_value());
    EXPECT_TRUE(merger.offer(elsewhere).has_value());
  }
  {
    KillMerger merger;  // one sample's rises in a leaf and, beyond it, in its parent: two kills
    KillSeen leaf = counted;
    leaf.cgroup = kApp + "/jellyfin.service";
    leaf.unit = "jellyfin.service";
    ASSERT_TRUE(merger.offer(leaf).has_value());
    EXPECT_TRUE(merger.offer(counted).has_value());
  }
  {
    KillMerger merger;  // oomd's kill of a leaf and a kernel kill counted in its parent differ
    KillSeen oomd = helper;
    oomd.killer = KillSeen::Killer::SystemdOomd;
    ASSERT_TRUE(merger.offer(oomd).has_value());
    EXPECT_TRUE(merger.offer(counted).has_value());
  }
}

// The helper relays a kill whose cgroup it could no longer resolve (systemd removed a collected
// unit's cgroup before the helper read the record: the VM test bed's second OOM hog) with an empty
// path: the event still says what happened, not "killed in ".
TEST(KillWatch, AKillInACgroupAlreadyRemovedSaysSo) {
  helper_wire::KernelOomKill relayed;
  relayed.ts_ns = 120002708270;
  relayed.pid = relayed.tgid = 613;
  relayed.uid = 1000;
  relayed.cgroup_id = relayed.memcg_id = 2561;
  relayed.comm = "python3";
  const KillSeen kill = kill_from_helper(relayed);
  const Event event = kill_event(kill, "normal", {});
  EXPECT_NE(event.message.find("the kernel OOM killer killed in a cgroup already removed (1 process)"),
            std::string::npos)
      << event.message;
  for (const auto& [key, value] : event.fields) EXPECT_NE(key, "CGROUP") << "no empty CGROUP field";
}

TEST(KillWatch, FollowsTheJournal) {
  std::string why;
  auto* journald = test::Journald::instance(&why);
  if (!journald) GTEST_SKIP() << why;
  auto reader = JournalKillReader::open();
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  ASSERT_GE((*reader)->fd(), 0);
  const std::string unit = "jellyfin-" + std::to_string(::getpid()) + ".service";
  // As the user manager writes it (src/core/unit.c unit_log_* for oomd kills).
  sd_journal_send("MESSAGE=%s: systemd-oomd killed 12 process(es) in this unit.", unit.c_str(),
                  "MESSAGE_ID=d989611b15e44c9dbf31e3c81256e4ed", "USER_UNIT=%s", unit.c_str(),
                  "N_PROCESSES=12", "PRIORITY=5", nullptr);
  sd_journal_send("MESSAGE=unrelated", "MESSAGE_ID=39f53479d3a045ac8e11786248231fbf", "USER_UNIT=%s",
                  unit.c_str(), nullptr);
  std::vector<KillSeen> kills;
  for (int i = 0; i < 60 && kills.empty(); ++i) {
    std::this_thread::sleep_for(50ms);
    for (auto& kill : (*reader)->read_new(MonoTime{})) {
      if (kill.unit == unit) kills.push_back(kill);
    }
  }
  ASSERT_EQ(kills.size(), 1u);
  EXPECT_EQ(kills[0].processes, 12u);
  EXPECT_EQ(kills[0].source, KillSeen::Source::Journal);
}

}  // namespace
}  // namespace guardian
