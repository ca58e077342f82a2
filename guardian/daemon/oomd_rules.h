// Which cgroups systemd-oomd watches, from the configuration files on the host: reads oomd.conf
// and the unit drop-ins (sense/systemd_config) and interprets them (model/oomd_config). The
// live view from oomd itself (D-Bus dump) overrides this where it is available.
#pragma once

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

OomdRuleSet load_oomd_rules(const HostRoot& host, const HostLayout& layout, const Snapshot& snapshot);

}  // namespace guardian
