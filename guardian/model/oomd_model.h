// The model of systemd-oomd's memory-pressure rule: given snapshots over time, for each watched
// cgroup, is it over oomd's limit, for how long, how long until oomd would kill, and whom.
// Pure: no I/O, no clocks — time comes from the snapshots.
//
// Mirrors systemd src/oom/oomd-manager.c (monitor_memory_pressure_contexts_handler) and
// src/oom/oomd-util.c (oomd_pressure_above, oomd_sort_cgroup_contexts, oomd_cgroup_kill):
//  - every ~1 s (MEM_PRESSURE_INTERVAL_USEC) oomd reads the *full* avg10 of each monitored cgroup;
//  - strictly above the limit starts (or continues) a timer; at or below resets it;
//  - over the limit for >= duration, and pgscan rose in the last 30 s (reclaim activity),
//    it kills the eligible descendant with the largest pgscan rate, then memory.current;
//    ManagedOOMPreference=avoid sorts last, omit is never chosen;
//  - after a kill it pauses for 15 s (POST_ACTION_DELAY_USEC).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/oomd_config.h"
#include "sense/snapshot.h"

namespace guardian {

struct OomdCgroupState {
  WatchedCgroup rule;
  bool present = false;             // cgroup found in the latest snapshot
  double full_avg10 = 0;            // percent
  double limit_fraction = 0;        // full_avg10 / limit (1.0 = at oomd's limit)
  bool over_limit = false;          // full_avg10 > limit
  double seconds_over = 0;          // how long continuously over the limit
  // Instantaneous full-stall share over the last interval, from the `total` µs counter (percent);
  // avg10 chases this value, so it predicts where avg10 is going.
  std::optional<double> stall_share_percent;
  // Predicted seconds until full avg10 crosses the limit (0 when already over); nullopt when the
  // current stall share would never take it there.
  std::optional<double> seconds_until_over;
  // Predicted seconds until oomd would kill; nullopt when no kill is on course.
  std::optional<double> seconds_until_kill;
  bool reclaim_recent = false;      // pgscan rose within the last 30 s
  std::optional<std::string> likely_victim;  // cgroup path oomd would pick now
};

class OomdModel {
 public:
  void set_rules(std::vector<WatchedCgroup> rules);
  [[nodiscard]] const std::vector<WatchedCgroup>& rules() const { return rules_; }

  // Feeds one snapshot (snapshots arrive in time order).
  void observe(const Snapshot& snapshot);

  // Records that oomd killed something at `when` (from its Killed signal or the journal): oomd
  // then pauses 15 s before it acts again.
  void note_kill(MonoTime when);

  [[nodiscard]] const std::vector<OomdCgroupState>& states() const { return states_; }

 private:
  struct History;  // per-cgroup rolling history
  std::vector<WatchedCgroup> rules_;
  std::vector<OomdCgroupState> states_;
  std::map<std::string, std::vector<std::pair<MonoTime, uint64_t>>> pgscan_history_;
  std::map<std::string, std::optional<MonoTime>> over_since_;
  std::map<std::string, std::pair<MonoTime, uint64_t>> last_full_total_;
  std::map<std::string, uint64_t> last_pgscan_;  // per descendant, for the pgscan rate
  std::optional<MonoTime> last_kill_;
  std::optional<MonoTime> last_observed_;
};

// Which cgroups in `snapshot` the rules apply to: resolves per-unit settings into cgroup paths.
// (user@.service -> the user manager's cgroup; user "slice" type drop-ins -> every .slice inside
// the user manager; system.slice -> /system.slice.)
std::vector<WatchedCgroup> resolve_watched(const OomdDefaults& defaults,
                                           const std::vector<std::pair<std::string, ManagedOomSettings>>& units,
                                           const Snapshot& snapshot);

}  // namespace guardian
