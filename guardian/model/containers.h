// Doctor findings about container.slice, the containers outside it, and systemd-oomd's live
// watch list. Pure functions over what the bus layer read; `guardian doctor` prints them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/findings.h"
#include "model/oomd_live.h"
#include "sense/systemd_units.h"

namespace guardian {

// Finding and verdict_name() are the doctor's (model/findings.h).
inline Finding make_finding(Finding::Verdict verdict, std::string topic, std::string summary,
                            std::string next_step) {
  return Finding{verdict, std::move(topic), std::move(summary), {}, std::move(next_step)};
}

// What the policy wants for container.slice ([container_slice] memory_high / memory_max),
// resolved to bytes.
struct ContainerSliceWanted {
  std::optional<uint64_t> memory_high;
  std::optional<uint64_t> memory_max;
};

// Is container.slice loaded, with the policy's limits, and not so tight that MemoryHigh
// throttling itself pushes the slice toward oomd's limit? `slice` is nullopt when it could not be
// read (no user bus).
std::vector<Finding> check_container_slice(const std::optional<UnitProperties>& slice,
                                           const ContainerSliceWanted& wanted);

// One finding per container outside container.slice, with the `guardian adopt` command (quadlets)
// or how to move it (podman run scopes); one Ok finding when all are inside.
std::vector<Finding> check_containers(const std::vector<ContainerUnit>& containers);

// oomd's live list against the drop-ins: one finding per disagreement, Ok when they agree.
std::vector<Finding> check_oomd_watch(const WatchReconciliation& reconciliation);

}  // namespace guardian
