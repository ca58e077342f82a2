// Which cgroups systemd-oomd watches, from the configuration files on the host: reads oomd.conf
// and the unit drop-ins (sense/systemd_config) and interprets them (model/oomd_config). The
// live view from oomd itself (D-Bus dump) overrides this where it is available.
#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/host_root.h"
#include "model/oomd_config.h"
#include "model/oomd_model.h"
#include "sense/snapshot.h"

namespace guardian {

struct OomdRuleSet {
  OomdDefaults defaults;
  std::vector<std::pair<std::string, ManagedOomSettings>> units;  // key convention: resolve_watched
  std::vector<WatchedCgroup> watched;
  std::vector<std::string> warnings;
};

// The slice units inside the user manager: the ones whose drop-ins (Fedora's user/slice.d) can
// put them under oomd. load_oomd_rules reads each; the daemon re-reads when this set changes.
std::set<std::string> user_manager_slices(const HostLayout& layout, const Snapshot& snapshot);

OomdRuleSet load_oomd_rules(const HostRoot& host, const HostLayout& layout, const Snapshot& snapshot);

}  // namespace guardian
