// One journal entry, as `guardian events` reads it, turned into what it says about memory
// pressure: one of guardian's own events (by its MESSAGE_ID, units/guardian.catalog), or one
// sighting of an OOM kill by the party that did it:
//  - systemd-oomd's own line (no MESSAGE_ID; SYSLOG_IDENTIFIER=systemd-oomd, src/oom/oomd-manager.c):
//      "Killed /…/jellyfin.service due to memory pressure for /…/container.slice being 93.29% >
//       80.00% for > 20s with reclaim activity"   (systemd 248-257; 258 says "Marked … for killing")
//      "Killed /…/x.scope due to memory used (…) / total (…) and swap used (…) / total (…) being
//       more than 90.00%"
//  - the unit's manager: MESSAGE_ID=d989611b15e44c9dbf31e3c81256e4ed "systemd-oomd killed 12
//    process(es) in this unit." (N_PROCESSES, UNIT= or USER_UNIT=; src/core/unit.c)
//  - the kernel (SYSLOG_IDENTIFIER=kernel, mm/oom_kill.c):
//      "oom-kill:constraint=CONSTRAINT_MEMCG,…,oom_memcg=/…,task_memcg=/…/jellyfin.service,task=ffmpeg,pid=4242,uid=1000"
//      "Memory cgroup out of memory: Killed process 4242 (ffmpeg) total-vm:…kB, anon-rss:…kB, …"
//      "Out of memory: Killed process 4242 (ffmpeg) …"   (the whole machine was out of memory)
//  - the unit's manager after a kernel kill: MESSAGE_ID=fe6faa94e7774663a0da52717891d8ef.
// Pure: fields in, a record out. The fields are what sd_journal gives ("NAME" -> "value").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace guardian::review {

inline constexpr std::string_view kManagerOomdKillId = "d989611b15e44c9dbf31e3c81256e4ed";
inline constexpr std::string_view kManagerKernelOomId = "fe6faa94e7774663a0da52717891d8ef";

struct JournalRecord {
  enum class Kind {
    Guardian,          // one of guardian's events; `event` is its GUARDIAN_EVENT name
    OomdKill,          // systemd-oomd's "Killed …" line
    ManagerOomdKill,   // the manager's d989611b entry for the killed unit
    KernelOomContext,  // the kernel's "oom-kill:constraint=…" line (which cgroup, which task)
    KernelOomKill,     // the kernel's "… Killed process PID (COMM) …" line
    ManagerKernelOom,  // the manager's fe6faa94 entry for the unit the kernel killed in
  } kind = Kind::Guardian;

  int64_t time_us = 0;  // __REALTIME_TIMESTAMP
  std::string boot_id;  // _BOOT_ID
  std::string event;    // guardian: GUARDIAN_EVENT; kills: "oomd-kill" / "kernel-oom-kill"
  std::string message;  // MESSAGE

  // guardian's GUARDIAN_* fields (without the prefix) that the timeline shows.
  std::string level, previous_level, reason, action, result, killer, active_actions, mode, policy;
  std::string cgroup;  // a cgroup path (guardian's CGROUP, oomd's victim, the kernel's task_memcg)
  std::string unit;    // UNIT / USER_UNIT / guardian's UNIT
  std::optional<double> pressure_percent;  // full avg10 at that moment (guardian, oomd)
  std::optional<double> limit_percent;     // oomd's limit for the watched cgroup
  std::optional<double> seconds_until_kill;
  std::optional<double> seconds_over;   // guardian: over the limit so long; oomd: its duration
  std::string watched_cgroup;           // oomd: the cgroup whose pressure was over the limit
  std::string kill_reason;              // oomd: "memory-pressure" / "memory-used"
  std::optional<uint64_t> processes;    // N_PROCESSES
  std::optional<uint64_t> pid;          // kernel: the killed task
  std::string task;                     // kernel: its command name
  std::optional<uint64_t> anon_rss_kb;  // kernel: its anonymous memory when killed
  std::string constraint;  // kernel: CONSTRAINT_MEMCG (a cgroup's limit) / CONSTRAINT_NONE (the machine)
};

using JournalFields = std::map<std::string, std::string, std::less<>>;

// The record for one entry, or nullopt when the entry says nothing `guardian events` shows.
// Malformed values (a pressure that is not a number) leave that field empty; they never fail the
// entry, since one odd line must not hide the rest of the timeline.
std::optional<JournalRecord> parse_journal_entry(const JournalFields& fields, int64_t time_us);

// Splits journal export format (`journalctl -o export`: "NAME=value\n" lines, or "NAME\n" +
// 64-bit little-endian length + binary value + "\n"; entries end with an empty line) into
// entries. __REALTIME_TIMESTAMP stays a field. Stops at the first malformed entry and says where.
struct ExportParse {
  std::vector<JournalFields> entries;
  std::string error;  // empty when the whole input was read
};
ExportParse parse_journal_export(std::string_view text);

}  // namespace guardian::review
