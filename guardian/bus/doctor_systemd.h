// The systemd part of `guardian doctor` in one blocking call (the CLI may wait; the daemon never
// calls this): container.slice against the policy, podman containers outside it, and
// systemd-oomd's live watch list against the drop-ins — each a Finding with a next step.
#pragma once

#include <string>
#include <vector>

#include "bus/bus_address.h"
#include "bus/systemd_client.h"
#include "common/host_root.h"
#include "model/containers.h"

namespace guardian::bus {

struct DoctorSystemdInput {
  BusAddress user_bus = BusAddress::user();
  BusAddress system_bus = BusAddress::system();
  std::string slice = "container.slice";
  ContainerSliceWanted wanted;              // the policy's [container_slice], in bytes
  std::vector<WatchedCgroup> dropin_rules;  // what the drop-ins say oomd watches
  std::string user_manager_path;            // "/user.slice/user-1000.slice/user@1000.service"
  std::string home;                         // for podman's containers.json (scope names)
  std::chrono::milliseconds timeout{3000};  // for all the calls together
};

struct DoctorSystemdReport {
  std::vector<Finding> findings;
  std::vector<ContainerUnit> containers;
  std::optional<WatchReconciliation> oomd;
};

DoctorSystemdReport doctor_systemd(const HostRoot& host, const DoctorSystemdInput& input);

}  // namespace guardian::bus
