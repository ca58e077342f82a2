// Which cgroups systemd-oomd watches, from the configuration files on the host: the files as
// sense/systemd_config reads them (read_oomd_config_files), interpreted with model/oomd_config.
// Pure. The live view from oomd itself (its D-Bus dump, model/oomd_live) overrides this where it
// is available.
#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "model/oomd_config.h"
#include "model/oomd_model.h"
#include "sense/snapshot.h"
#include "sense/systemd_config.h"

namespace guardian {

struct OomdRuleSet {
  OomdDefaults defaults;
  std::vector<std::pair<std::string, ManagedOomSettings>> units;  // key convention: resolve_watched
  std::vector<WatchedCgroup> watched;
  std::vector<std::string> warnings;
};

// The slice units inside the user manager: the ones whose drop-ins (Fedora's user/slice.d) can
// put them under oomd. read_oomd_config_files reads each; the daemon re-reads when this set changes.
std::set<std::string> user_manager_slices(const HostLayout& layout, const Snapshot& snapshot);

// oomd's defaults and the ManagedOOM settings of each unit in `files`, resolved against the
// cgroups of `snapshot` (model/oomd_config resolve_watched); problems become warnings.
OomdRuleSet oomd_rules_from_files(const OomdConfigFiles& files, const Snapshot& snapshot);

}  // namespace guardian
