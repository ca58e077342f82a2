// systemd-oomd's live view (its dump, parsed by sense/oomd_dump) interpreted: the cgroups oomd
// really watches as guardian's rules, and where they disagree with the drop-ins guardian read
// (systemd #43174: a `systemctl --user daemon-reload` drops the user manager from oomd's list).
// Pure.
#pragma once

#include <string>
#include <vector>

#include "model/oomd_config.h"
#include "sense/oomd_dump.h"

namespace guardian {

// The dump as guardian's watched-cgroup rules: each pressure-monitored cgroup with its limit and
// duration (the default when the dump has none per cgroup); source "oomd live dump".
std::vector<WatchedCgroup> watched_from_dump(const OomdDump& dump);

// Live view vs. drop-in reading. The live view wins; every difference is reported.
struct WatchDisagreement {
  enum class Kind {
    MissingFromLive,  // the drop-ins say oomd watches it, oomd does not (systemd #43174)
    OnlyInLive,       // oomd watches it, the drop-ins guardian read do not say so
    LimitDiffers,     // both watch it, with a different limit or duration
  } kind = Kind::MissingFromLive;
  std::string path;
  std::string detail;     // "drop-ins: 80.00% for 20s, live: 50.00% for 20s"
  std::string next_step;  // what the user should run
};
struct WatchReconciliation {
  std::vector<WatchedCgroup> effective;  // what guardian models: the live view
  std::vector<WatchDisagreement> disagreements;
};
// `user_manager_path` ("/user.slice/user-1000.slice/user@1000.service") lets a missing user
// manager be recognised as the #43174 trap and named in the next step.
WatchReconciliation reconcile_watched(const std::vector<WatchedCgroup>& from_dropins, const OomdDump& live,
                                      const std::string& user_manager_path);

}  // namespace guardian
