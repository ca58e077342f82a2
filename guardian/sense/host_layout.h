// The host's layout (sense/snapshot.h HostLayout), discovered once when the sampler starts.
#pragma once

#include <cstdint>
#include <optional>

#include "common/host_root.h"
#include "sense/snapshot.h"

namespace guardian {

// Reads /proc/self/mountinfo and the cgroup tree through `host`; the uid defaults to this
// process's. A host guardian cannot watch cgroups on gets system_only() with the reason.
HostLayout discover_host_layout(const HostRoot& host, std::optional<uint32_t> uid_override);

}  // namespace guardian
