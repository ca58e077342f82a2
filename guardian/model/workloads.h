// Which memory in the user's manager belongs to containers and which to the desktop — the
// incident report's arithmetic ("user.slice ~16.2 GB = containers ~3.3 GB + desktop ~13 GB") as a
// pure function of one Snapshot.
//
// A container is, inside user@UID.service:
//  - a rootless podman scope "libpod-<id>.scope" (podman's systemd cgroup manager puts it in the
//    user manager's user.slice); its "libpod-conmon-<id>.scope" (conmon, the container monitor)
//    is merged into the container with the same id, or counted as its own container when the
//    payload scope is not there;
//  - every direct child of a "container.slice" (the incident's option 4);
//  - a quadlet service whose unit name the caller lists ("jellyfin.service"; quadlet generates a
//    .service per .container file).
// The outermost match wins: a libpod scope inside a listed quadlet service is not counted twice.
// Everything else in the user's slices is "desktop".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sense/snapshot.h"

namespace guardian {

struct ContainerCgroup {
  std::string path;           // the container's cgroup
  std::string name;           // "jellyfin.service", or the short id "3f2a8c1b9d0e" for a libpod scope
  uint64_t memory_bytes = 0;  // memory.current, conmon's scope included
  std::vector<std::string> merged_paths;  // libpod-conmon scopes folded into this one
};

struct DesktopCgroup {
  std::string path;           // a direct child of the user manager ("…/app.slice")
  uint64_t memory_bytes = 0;  // its memory.current minus the containers inside it
};

struct WorkloadSplit {
  uint64_t user_total_bytes = 0;            // memory.current of user@UID.service
  uint64_t containers_bytes = 0;            // sum over containers
  uint64_t desktop_bytes = 0;               // user_total - containers (never below 0)
  std::vector<ContainerCgroup> containers;  // largest first
  std::vector<DesktopCgroup> desktop;       // largest first
};

// `user_manager_path` is "/user.slice/user-UID.slice/user@UID.service"; `quadlet_units` the unit
// names of quadlet-generated services. Cgroups without memory.current count as 0 bytes.
WorkloadSplit classify_workloads(const Snapshot& snapshot, std::string_view user_manager_path,
                                 const std::vector<std::string>& quadlet_units);

}  // namespace guardian
