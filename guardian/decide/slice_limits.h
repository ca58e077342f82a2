// Doing no harm with container.slice's limits. Pure: plain values in, a plan out.
//
// 1. plan_slice_limit: what guardian does with one limit of container.slice (MemoryHigh or
//    MemoryMax) against the policy's [container_slice]. By default the correction only ever
//    raises a limit, or sets one where none is set — and then never below what the slice uses
//    now, since a MemoryHigh under memory.current throttles the slice at once (and a MemoryMax
//    under it makes the kernel reclaim or OOM-kill inside it). A limit the user (or another
//    tool) set is never lowered. A limit guardian set itself (the state file holds the user's
//    original) may be moved again, judged against the user's original, and put back when the
//    policy no longer asks for more. `hard = true` ([container_slice] correction = "hard") sets
//    the policy's value whatever it finds, as guardian did before.
//
// 2. may_lower_limit: whether lowering the limit of a cgroup is safe for systemd-oomd's rule. A
//    lowered MemoryHigh throttles the cgroup by reclaim; that stall counts in the memory
//    pressure of the cgroup itself and of every ancestor. oomd kills inside a watched cgroup
//    whose full avg10 stays above its limit, so lowering any limit at or below a watched cgroup
//    whose pressure is climbing toward its limit brings the kill closer:
//     - Debian 12's rule watches user@UID.service (ManagedOOMMemoryPressure=kill, 50%): every
//       slice of the user, container.slice included, lies below it;
//     - Fedora's per-slice rule watches each slice of the user manager (80%): container.slice
//       is watched itself, so lowering it raises exactly the pressure oomd judges it by.
//    The guard refuses while any such watched cgroup is hot (above a share of its limit, rising
//    toward it, or with a kill predicted).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/containers.h"
#include "model/findings.h"
#include "model/oomd_model.h"
#include "sense/systemd_units.h"

namespace guardian {

struct SliceLimitInput {
  std::string_view property = "MemoryHigh";  // "MemoryHigh" or "MemoryMax"
  std::optional<uint64_t> current;           // the slice's value now (nullopt = infinity)
  // The user's value when guardian set the current one (its original in the state file; the
  // inner nullopt = the user had none). nullopt when the current value is the user's own.
  std::optional<std::optional<uint64_t>> user_original;
  uint64_t wanted = 0;                  // the policy's value, in bytes
  std::optional<uint64_t> usage_bytes;  // MemoryCurrent of the slice (nullopt = unknown)
  bool hard = false;                    // [container_slice] correction = "hard"
  // A limit set where none was must leave this much room above what the slice uses now.
  double headroom = 0.10;
};

struct SliceLimitPlan {
  enum class Kind {
    AlreadyThere,  // the slice is at the value the plan wants: nothing to do
    Keep,          // leave the user's value (no change)
    Set,           // set `target` (raise the user's value, set one where none was, or hard)
    RestoreUser,   // guardian's own earlier value goes; the user's original comes back
    Defer,         // none set, but the policy's value is below what the slice uses: not now
  } kind = Kind::Keep;
  std::optional<uint64_t> target;  // Set: the value; RestoreUser: the user's original
  std::string reason;              // "kept: set by the user (800 MiB, the policy asks 491 MiB)"
};

SliceLimitPlan plan_slice_limit(const SliceLimitInput& input);

// Short tag for the doctor and the journal: "kept", "would raise", …
std::string_view plan_kind_name(SliceLimitPlan::Kind kind);

// The user's originals guardian saved for container.slice's limits (the state file's
// "systemd.unit-property/<unit>/<Property>" entries): present when guardian set the value in force.
struct SavedSliceOriginals {
  std::optional<std::optional<uint64_t>> memory_high;
  std::optional<std::optional<uint64_t>> memory_max;
};

// `guardian doctor`'s finding on container.slice's limits: what it found, whose they are, and
// what the policy would do with each, and why. Ok when nothing would change, Info when guardian
// would raise or set one, Warning when a limit waits for the slice to shrink or a hard
// correction would lower one.
Finding slice_limits_finding(const UnitProperties& slice, const ContainerSliceWanted& wanted,
                             const SavedSliceOriginals& saved = {});

// One cgroup systemd-oomd watches, as the guard sees it.
struct WatchedPressure {
  std::string_view path;     // "/user.slice/user-1000.slice/user@1000.service"
  double limit_percent = 0;  // oomd's ManagedOOMMemoryPressureLimit for it
  double full_avg10 = 0;     // its full avg10 now (percent)
  // The instantaneous full-stall share over the last interval; avg10 chases it, so above
  // avg10 means rising (OomdCgroupState::stall_share_percent).
  std::optional<double> stall_share_percent;
  std::optional<double> seconds_until_kill;  // the model's prediction; nullopt = none on course
};

struct LowerGuardSettings {
  // Hot at or above this share of oomd's limit (the default policy's "elevated" enters at 50).
  double hot_percent_of_limit = 30;
  // … or rising and at or above this share (a climb toward the limit starting).
  double rising_percent_of_limit = 10;
  // … or a kill predicted within this many seconds.
  double kill_within_seconds = 300;
};

struct LowerVerdict {
  bool allowed = true;
  std::string reason;  // which watched cgroup forbids it, with its numbers
};

// The watched cgroups of oomd's model, as the guard reads them (present ones only).
std::vector<WatchedPressure> watched_pressures(std::span<const OomdCgroupState> states);

// May the limit of `cgroup` (an absolute cgroup path) be lowered now? Refused when a watched
// cgroup that is `cgroup` or one of its ancestors is hot. Watched cgroups elsewhere (a sibling
// slice) do not count: their pressure does not include this cgroup's stall.
LowerVerdict may_lower_limit(std::string_view cgroup, std::span<const WatchedPressure> watched,
                             const LowerGuardSettings& settings = {});

}  // namespace guardian
