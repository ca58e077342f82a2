// systemd-oomd's configuration as guardian models it: which cgroups it watches for memory
// pressure, with which limit and duration. Pure: interprets files that sense/systemd_config read.
//
// From systemd's src/oom/oomd.c and oomd-manager.c (v252..v257): DefaultMemoryPressureLimit=
// (upstream 60%) and DefaultMemoryPressureDurationSec= (upstream 30 s) in [OOM] of oomd.conf;
// a unit opts in with ManagedOOMMemoryPressure=kill and may set ManagedOOMMemoryPressureLimit=.
// The user manager reports its units to oomd too, so "slice.d" drop-ins in the user scope make
// every user slice a watched cgroup (Fedora's 10-oomd-per-slice-defaults.conf).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "sense/systemd_config.h"

namespace guardian {

struct OomdDefaults {
  double memory_pressure_limit_percent = 60.0;             // DefaultMemoryPressureLimit=
  std::chrono::microseconds memory_pressure_duration{30'000'000};  // DefaultMemoryPressureDurationSec=
  double swap_used_limit_percent = 90.0;                   // SwapUsedLimit=
  std::vector<std::string> sources;                         // files that set a value
};

// Parses oomd.conf fragments in application order. Bad values are reported with FILE:LINE and
// the previous value kept, as systemd does.
OomdDefaults parse_oomd_conf(const std::vector<ConfigFile>& files, std::vector<std::string>* warnings);

// The ManagedOOM* settings of one unit after all its fragments.
struct ManagedOomSettings {
  bool memory_pressure_kill = false;                 // ManagedOOMMemoryPressure=kill
  std::optional<double> memory_pressure_limit_percent;  // ManagedOOMMemoryPressureLimit=
  std::optional<std::chrono::microseconds> memory_pressure_duration;  // ManagedOOMMemoryPressureDurationSec= (v257+)
  std::string preference;                            // ManagedOOMPreference= none|avoid|omit
  std::string source;                                // the fragment that turned kill on
};
ManagedOomSettings parse_managed_oom(const std::vector<ConfigFile>& fragments,
                                     std::vector<std::string>* warnings);

// A cgroup systemd-oomd watches for memory pressure, with its effective rule.
struct WatchedCgroup {
  std::string path;  // cgroup path relative to the cgroup2 mount
  std::string unit;  // e.g. "app.slice" or "user@1000.service"
  double limit_percent = 60.0;
  std::chrono::microseconds duration{30'000'000};
  std::string source;  // why: the drop-in file, or "oomd live dump"
  friend bool operator==(const WatchedCgroup&, const WatchedCgroup&) = default;
};

}  // namespace guardian
