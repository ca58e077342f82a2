// The memory the active levels' actions hold back: for each level, how far the cgroups its
// actions act on have fallen since the level was entered. Pure: snapshots in, plain values out.
//
// Why: a level's actions give the user's budget room (in the VM's whole-user squeeze, sqj-s22-g4,
// cap-bitrate made a client reload at 720p and jellyfin.service fell from 565 to 333 MiB), so the
// conditions that entered it stop holding, the level is left, its actions are reverted and the
// memory comes back: the level was entered again 2-70 s later. [approach] reads these figures so
// that a level is not left while the room it sees is the room its own actions made
// (decide/ladder.cpp, max_rebound_hold).
//
// The measure, per level: for each cgroup its actions act on (ReliefTarget, named by the action
// registry: the [[jellyfin]] instance's cgroup for the Jellyfin actions whose revert gives memory
// back, the unit of unit.freeze, the slice of the slice.* actions), memory.current in the
// snapshot of the tick that entered the level minus memory.current now, floored at 0; a cgroup
// gone since counts 0, and one not there at the entry is not measured. A target inside another of
// the same level (jellyfin.service in container.slice, which slice.balance moves) counts toward
// the outer one: the larger of the outer's own fall and the sum of the falls inside it, so memory
// is not counted twice, and a sibling that grew meanwhile does not cancel what the actions freed.
//
// Steady ticks allocate nothing and read nothing new: the figures come from the snapshot the
// sampler already read (memory.current of every cgroup below the user manager). Recording a level's
// entry copies its targets' paths (a transition, which is told anyway).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sense/snapshot.h"

namespace guardian {

// The cgroup an action acts on while applied, whose memory its revert gives back.
struct ReliefTarget {
  enum class By {
    Path,  // a cgroup path: relative to the user manager ("container.slice/jellyfin.service"), or
           // absolute from the cgroup2 mount ("/system.slice/jellyfin.service")
    Unit,  // a unit name ("immich-ml.service", "container.slice"): the cgroup of that name below
           // the user manager, wherever its slice puts it
  } by = By::Path;
  std::string name;
  friend bool operator==(const ReliefTarget&, const ReliefTarget&) = default;
};

class ActionReliefModel {
 public:
  // The targets of each level's actions (index = level - 1), from the policy in force. Forgets
  // every recorded entry: a new policy's levels are new levels.
  void set_targets(std::vector<std::vector<ReliefTarget>> targets);

  // After decide: the levels `level_entered_at` lists (1..n, the ladder's entered_at) are active.
  // A level entered since the last call (a new entry time) records its targets' memory.current
  // from `snapshot` (the tick that decided the entry, before its actions ran); levels above n are
  // forgotten.
  void note_levels(const std::vector<MonoTime>& level_entered_at, const Snapshot& snapshot,
                   std::string_view user_manager_path);

  // Each tick, before decide: every recorded level's relief from `snapshot`. No allocation.
  void observe(const Snapshot& snapshot);

  // Bytes held back per recorded level (index = level - 1); as many entries as note_levels saw
  // active levels.
  [[nodiscard]] const std::vector<uint64_t>& held_back_bytes() const { return held_back_; }

 private:
  struct Measured {
    std::string path;  // as in the snapshot
    uint64_t at_entry = 0;
    size_t depth = 0;             // '/' count: the deepest are summed first
    std::optional<size_t> outer;  // the enclosing target of the same level
    uint64_t own = 0, inner = 0;  // this tick: its own fall, the sum of those inside it
  };
  struct Entry {
    std::optional<MonoTime> entered_at;
    std::vector<Measured> measured;  // deepest first
  };
  std::vector<std::vector<ReliefTarget>> targets_;
  std::vector<Entry> entries_;
  std::vector<uint64_t> held_back_;
};

}  // namespace guardian
