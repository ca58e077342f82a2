// The model of systemd-oomd's memory-pressure rule: given snapshots over time, for each watched
// cgroup, is it over oomd's limit, for how long, how long until oomd would kill, and whom.
// Pure: no I/O, no clocks — time comes from the snapshots.
//
// Mirrors systemd src/oom/oomd-manager.c (monitor_memory_pressure_contexts_handler,
// recursively_get_cgroup_context) and src/oom/oomd-util.c (oomd_pressure_above,
// oomd_insert_cgroup_context, oomd_sort_cgroup_contexts with compare_pgscan_rate_and_memory_usage,
// oomd_select_by_pgscan_rate); see the top of oomd_model.cpp for the details:
//  - every 1 s (MEM_PRESSURE_INTERVAL_USEC) oomd reads the *full* avg10 of each monitored cgroup;
//  - avg10 strictly above the limit starts a timer (kept while above); at or below resets it; both
//    sides are compared as two-decimal fixed point, so "80.00" is not above 80%;
//  - once the timer has run for >= the duration, and the monitored cgroup's own pgscan rose within
//    the last 30 s (RECLAIM_DURATION_USEC, last_had_mem_reclaim), it kills a candidate below it:
//    a leaf, or a cgroup with memory.oom.group=1 (not descended into), found by recursing from the
//    monitored cgroup; user.oomd_omit removes a candidate, user.oomd_avoid sorts it last; then the
//    largest pgscan delta since oomd's previous read, then the largest memory.current; candidates
//    with pgscan == 0 and memory.current == 0 are skipped;
//  - after a kill it acts on nothing for 15 s (POST_ACTION_DELAY_USEC); the timers keep running.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "model/oomd_config.h"
#include "sense/snapshot.h"

namespace guardian {

// The kernel's avg10 (kernel/sched/psi.c calc_avgs): every 2 s, avg = avg*e + share*(1-e) with
// e = exp(-2 s / 10 s) (EXP_10s = 1677/2048 in fixed point).
inline constexpr double kPsiAvgPeriodSeconds = 2.0;
inline constexpr double kPsiAvg10Decay = 0.8187307530779818;     // exp(-0.2)
inline constexpr std::chrono::seconds kOomdReclaimWindow{30};    // RECLAIM_DURATION_USEC
inline constexpr std::chrono::seconds kOomdPostActionDelay{15};  // POST_ACTION_DELAY_USEC

// Seconds until an avg10 of `avg10_percent` chasing a steady stall share of `share_percent` is
// strictly above `limit_percent`, counted in whole 2-s kernel updates; the next update is taken
// to be half a period away (its phase is unknown), so the answer is 2*k - 1 s for the k-th update.
// 0 when already above; nullopt when the share never takes it there.
std::optional<double> predict_seconds_until_above(double avg10_percent, double share_percent,
                                                  double limit_percent);

struct OomdCgroupState {
  WatchedCgroup rule;
  bool present = false;       // cgroup found in the latest snapshot
  double full_avg10 = 0;      // percent
  double limit_fraction = 0;  // full_avg10 / limit (1.0 = at oomd's limit)
  bool over_limit = false;    // full_avg10 > limit (two-decimal fixed point, as oomd compares)
  // How long continuously over the limit, from guardian's first sample over it (0 then). oomd's own
  // timer may have started up to one sampling interval earlier.
  double seconds_over = 0;
  // Instantaneous full-stall share over the last interval, from the `total` µs counter (percent);
  // avg10 chases this value, so it predicts where avg10 is going.
  std::optional<double> stall_share_percent;
  // Predicted seconds until full avg10 crosses the limit (0 when already over); nullopt when the
  // current stall share would never take it there.
  std::optional<double> seconds_until_over;
  // Predicted seconds until oomd's pressure rule fires: max(0, duration - seconds_over) when over,
  // seconds_until_over + duration when on course, never earlier than the end of a post-kill pause;
  // nullopt when no kill is on course. This is the pressure timer alone: oomd also needs reclaim
  // (reclaim_recent) to kill, and guardian deliberately does not drop the prediction without it,
  // because pgscan starts the moment pressure rises, so a missing reclaim is a short reprieve,
  // never safety. Read kill_possible_now for "would oomd kill at this instant".
  std::optional<double> seconds_until_kill;
  bool reclaim_recent = false;     // the cgroup's own pgscan rose within the last 30 s
  bool kill_possible_now = false;  // timer >= duration, reclaim_recent, no pause, a victim exists
  std::optional<double> pause_remaining_seconds;  // within oomd's 15 s post-kill pause
  std::optional<std::string> likely_victim;       // cgroup path oomd would pick now
};

class OomdModel {
 public:
  void set_rules(std::vector<WatchedCgroup> rules);
  [[nodiscard]] const std::vector<WatchedCgroup>& rules() const { return rules_; }

  // Feeds one snapshot (snapshots arrive in time order; an older one is ignored).
  void observe(const Snapshot& snapshot);

  // Records that oomd killed something at `when` (from its Killed signal or the journal): oomd
  // then pauses 15 s before it acts again. Takes effect from the next observe().
  void note_kill(MonoTime when);

  [[nodiscard]] const std::vector<OomdCgroupState>& states() const { return states_; }

 private:
  struct Tracked {  // per watched cgroup path
    std::optional<MonoTime> over_since;
    std::optional<MonoTime> last_reclaim;
  };
  struct Counters {  // per cgroup path, from the latest snapshot (updated in place each tick)
    uint64_t pgscan = 0;
    uint64_t full_total_us = 0;
    bool has_pressure = false;
    uint64_t seen_in_tick = 0;  // entries not seen in the current tick are dropped
    size_t index = 0;           // position in the current snapshot's cgroups
  };
  // Heterogeneous lookup, so a parent path (a string_view into a child's path) needs no copy.
  struct PathHash {
    using is_transparent = void;
    size_t operator()(std::string_view path) const { return std::hash<std::string_view>{}(path); }
  };
  std::vector<WatchedCgroup> rules_;
  std::vector<OomdCgroupState> states_;
  std::map<std::string, Tracked> tracked_;
  std::unordered_map<std::string, Counters, PathHash, std::equal_to<>> counters_;
  uint64_t tick_ = 0;
  std::optional<MonoTime> last_kill_;
  std::optional<MonoTime> last_observed_;
  // observe()'s working arrays, kept so a tick over the same tree allocates nothing.
  struct Scratch {
    std::vector<std::optional<Counters>> before;
    std::vector<uint64_t> rate;
    std::vector<size_t> parent, child_begin, child_list, fill;
    std::vector<std::pair<const CgroupSample*, uint64_t>> candidates;  // (sample, pgscan rate)
  };
  Scratch scratch_;
};

// Which cgroups in `snapshot` the rules apply to: resolves per-unit settings into cgroup paths.
//
// Each unit key names a scope and a unit, "<scope>/<unit>":
//   "system/user@.service"     -> /user.slice/user-UID.slice/user@UID.service, for every user
//                                 manager cgroup present in the snapshot;
//   "system/user@1000.service" -> that one user manager;
//   "system/<name>.slice"      -> the slice's cgroup from its dashed name ("system.slice" ->
//                                 /system.slice, "user-1000.slice" -> /user.slice/user-1000.slice);
//   "system/<name>.service|.scope" -> /system.slice/<name> (the default slice);
//   "user/<type>"              -> a user-manager type drop-in ("slice" for slice.d/): every cgroup
//                                 of that unit type strictly inside each user@UID.service
//                                 (app.slice, session.slice, background.slice, user.slice,
//                                 container.slice, nested app-gnome.slice, …);
//   "user/<name>.<type>"       -> every cgroup named <name>.<type> inside a user manager.
// The settings passed for a named unit are that unit's complete configuration (type drop-ins
// included), so a named unit overrides what its type drop-in said: "user/container.slice" with
// ManagedOOMMemoryPressure=auto removes container.slice again. Units whose settings do not say
// kill are not watched. Limit: the unit's limit if set and > 0, else defaults; duration: the
// unit's (v257) else defaults. The result is in snapshot (pre-)order, one entry per path.
std::vector<WatchedCgroup> resolve_watched(
    const OomdDefaults& defaults, const std::vector<std::pair<std::string, ManagedOomSettings>>& units,
    const Snapshot& snapshot);

}  // namespace guardian
