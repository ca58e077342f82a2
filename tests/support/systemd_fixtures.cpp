#include "support/systemd_fixtures.h"

#include <cstdint>
#include <string>

namespace guardian::test {
namespace {
constexpr uint64_t kGiB = 1ULL << 30;
const std::string kManager = "/user.slice/user-1000.slice/user@1000.service";
}  // namespace

UnitProperties incident_container_slice() {
  UnitProperties slice;
  slice.name = "container.slice";
  slice.load_state = "loaded";
  slice.active_state = "active";
  slice.sub_state = "active";
  slice.freezer_state = "running";
  slice.slice = "-.slice";
  slice.control_group = kManager + "/container.slice";
  slice.memory_current = 3'300'000'000ULL;
  slice.memory_high = 8 * kGiB;
  slice.memory_max = 10 * kGiB;
  slice.managed_oom_memory_pressure = "kill";
  slice.managed_oom_memory_pressure_limit_percent = 80.0;
  slice.managed_oom_preference = "none";
  return slice;
}

UnitProperties incident_jellyfin_service() {
  UnitProperties jellyfin;
  jellyfin.name = "jellyfin.service";
  jellyfin.load_state = "loaded";
  jellyfin.active_state = "active";
  jellyfin.sub_state = "running";
  jellyfin.freezer_state = "running";
  jellyfin.slice = "app.slice";
  jellyfin.control_group = kManager + "/app.slice/jellyfin.service";
  jellyfin.source_path = "/home/alice/.config/containers/systemd/jellyfin.container";
  jellyfin.memory_current = 2'684'354'560ULL;  // 2.5 GiB
  jellyfin.memory_high = 3 * kGiB;
  jellyfin.memory_max = 4 * kGiB;
  jellyfin.managed_oom_memory_pressure = "auto";
  jellyfin.n_restarts = 3;
  jellyfin.environment = {"PODMAN_SYSTEMD_UNIT=jellyfin.service"};
  return jellyfin;
}

UnitProperties incident_immich_ml_service() {
  UnitProperties immich;
  immich.name = "immich-ml.service";
  immich.load_state = "loaded";
  immich.active_state = "active";
  immich.freezer_state = "running";
  immich.slice = "container.slice";
  immich.source_path = "/home/alice/.config/containers/systemd/immich-ml.container";
  return immich;
}

const char* const kOomdDump252WithoutUserManager =
    "Dry Run: no\n"
    "Swap Used Limit: 90.00%\n"
    "Default Memory Pressure Limit: 60.00%\n"
    "Default Memory Pressure Duration: 20s\n"
    "System Context:\n"
    "\tMemory: Used: 16.2G Total: 30.6G\n"
    "\tSwap: Used: 1.1G Total: 8.0G\n"
    "Swap Monitored CGroups:\n"
    "\tPath: /\n"
    "\t\tSwap Usage: (see System Context)\n"
    "Memory Pressure Monitored CGroups:\n"
    "\tPath: /user.slice/user-1000.slice/user@1000.service/app.slice\n"
    "\t\tMemory Pressure Limit: 80.00%\n"
    "\t\tPressure: Avg10: 12.34 Avg60: 8.01 Avg300: 2.50 Total: 14s\n"
    "\t\tCurrent Memory Usage: 12.9G\n"
    "\t\tMemory Min: 0B\n"
    "\t\tMemory Low: 0B\n"
    "\t\tPgscan: 1822312\n"
    "\t\tLast Pgscan: 1822001\n";

const char* const kOomdDump252Debian12 =
    "Dry Run: no\n"
    "Swap Used Limit: 90.00%\n"
    "Default Memory Pressure Limit: 60.00%\n"
    "Default Memory Pressure Duration: 30s\n"
    "System Context:\n"
    "\tMemory: Used: 6.1G Total: 15.5G\n"
    "\tSwap: Used: 0B Total: 976.0M\n"
    "Swap Monitored CGroups:\n"
    "Memory Pressure Monitored CGroups:\n"
    "\tPath: /user.slice/user-1000.slice/user@1000.service\n"
    "\t\tMemory Pressure Limit: 50.00%\n"
    "\t\tPressure: Avg10: 0.11 Avg60: 0.05 Avg300: 0.01 Total: 1s\n"
    "\t\tCurrent Memory Usage: 2.5G\n"
    "\t\tMemory Min: 0B\n"
    "\t\tMemory Low: 0B\n"
    "\t\tPgscan: 88120\n"
    "\t\tLast Pgscan: 88120\n";

}  // namespace guardian::test
