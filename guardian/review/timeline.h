// The timeline `guardian events` prints: guardian's events as they are, and every OOM kill as one
// row however many parties logged it (systemd-oomd's line, the manager's entry, the kernel's two
// lines, guardian's own oom-kill event), with what guardian was doing at that moment — or that it
// was not running, which is what explains a kill nobody acted against. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "review/journal_entry.h"

namespace guardian::review {

struct KillDetail {
  std::string killer;  // "systemd-oomd" / "kernel"
  std::string reason;  // oomd: "memory-pressure" / "memory-used"; kernel: "cgroup-limit" / "out-of-memory"
  std::string watched_cgroup;  // oomd: the cgroup over its limit; kernel: the cgroup at its limit
  std::optional<uint64_t> processes;
  std::optional<uint64_t> pid;
  std::string task;
  std::optional<uint64_t> anon_rss_kb;
  bool guardian_running = false;
  std::string guardian_level;               // its level at that moment, when running
  std::vector<std::string> active_actions;  // from guardian's own oom-kill event
  std::vector<std::string> seen_by;         // "systemd-oomd", "manager", "kernel", "guardian"
  unsigned sightings = 0;  // one bit per JournalRecord::Kind folded in: one line of each kind per kill
};

struct TimelineRow {
  int64_t time_us = 0;
  std::string event;   // guardian's event name, or "oomd-kill" / "kernel-oom-kill"
  std::string cgroup;  // full cgroup path, when the entry names one
  std::string unit;
  std::optional<double> full_avg10;          // percent, at that moment
  std::optional<double> oomd_limit_percent;  // percent
  std::optional<double> seconds_until_kill;  // guardian's prediction; 0 for oomd's kill itself
  std::string level;                         // guardian's level after this event
  std::string action;                        // "normal -> elevated", "elevated/jellyfin.transcode-vaapi"
  std::string result;                        // "applied", the reason of a level change, what a kill took
  std::string message;
  std::optional<KillDetail> kill;
};

// What the journal said before the first record read (`--since` starts mid-way).
struct GuardianState {
  bool running = false;
  std::string level = "normal";
  std::string boot_id;  // the boot guardian last started in: a reboot ends it too
};

class TimelineBuilder {
 public:
  // Sightings of one kill farther apart than this are two kills.
  static constexpr int64_t kMergeWindowUs = 10'000'000;

  explicit TimelineBuilder(GuardianState start = {}) : state_(std::move(start)) {}

  // Records in journal (time) order.
  void add(const JournalRecord& record);
  // Rows no later sighting can change (older than now - kMergeWindowUs), in time order; for
  // --follow.
  std::vector<TimelineRow> take_ready(int64_t now_us);
  // Every row left.
  std::vector<TimelineRow> finish();

  [[nodiscard]] const GuardianState& state() const { return state_; }

 private:
  TimelineRow* find_kill(const JournalRecord& record);
  void fold(TimelineRow& row, const JournalRecord& record);
  TimelineRow guardian_row(const JournalRecord& record);

  GuardianState state_;
  std::vector<TimelineRow> pending_;
};

// The state after `records` (the look-back before --since): started/stopping, level changes, boot.
GuardianState guardian_state_after(const std::vector<JournalRecord>& records);

// "/user.slice/user-1000.slice/user@1000.service/container.slice/jellyfin.service" ->
// "container.slice/jellyfin.service": cgroups inside a user manager are shown as the user's
// policies name them; others stay whole.
std::string short_cgroup_name(const std::string& cgroup);

// --event and --unit. An empty list lets everything through. Event names are guardian's
// (`started`, `level-changed`, …), `oomd-kill`, `kernel-oom-kill`, or `oom-kill` for both kinds of
// kill; units match the row's unit or any component of its cgroup (shell globs; a name without a
// dot gets ".service", as journalctl --unit does).
struct TimelineFilter {
  std::vector<std::string> events;
  std::vector<std::string> units;
  std::optional<int64_t> since_us;
  std::optional<int64_t> until_us;
  [[nodiscard]] bool matches(const TimelineRow& row) const;
};

// The event names --event accepts, for help and completion.
std::vector<std::string> timeline_event_names();

}  // namespace guardian::review
