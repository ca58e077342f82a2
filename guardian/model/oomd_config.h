// systemd-oomd's configuration as guardian models it: which cgroups it watches for memory
// pressure, with which limit and duration. Pure: interprets files that sense/systemd_config read.
//
// From systemd's src/oom/oomd.c (v252: parse_config) and oomd-manager.c (v257:
// manager_parse_config_file, process_managed_oom_message): [OOM] DefaultMemoryPressureLimit=
// (upstream 60%), DefaultMemoryPressureDurationSec= (upstream 30 s) and SwapUsedLimit= (90%) in
// oomd.conf and its oomd.conf.d drop-ins. A unit opts in with ManagedOOMMemoryPressure=kill and
// may set ManagedOOMMemoryPressureLimit= (0 = use the default) and, from v257 on,
// ManagedOOMMemoryPressureDurationSec=. The user manager reports its units to oomd too, so "slice.d"
// drop-ins in the user scope make every user slice a watched cgroup (Fedora's
// 10-oomd-per-slice-defaults.conf).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "sense/systemd_config.h"

namespace guardian {

// ---- The systemd ini dialect (systemd.syntax(7)), shared by oomd.conf and unit drop-ins ----
//
// "[Section]" lines, "Key=Value" assignments (both trimmed), whole-line comments starting with
// '#' or ';', a trailing '\' joins the next line (the backslash becomes a space, comment lines
// inside a continuation are skipped, as systemd's config_parse() does). Values are kept verbatim:
// an empty value is an assignment too ("Key=" resets the setting in systemd), so callers see it.
struct IniAssignment {
  std::string section;  // without brackets; empty never happens (such lines are warnings)
  std::string key;
  std::string value;
  size_t line = 0;  // 1-based line where the assignment starts
  friend bool operator==(const IniAssignment&, const IniAssignment&) = default;
};

struct IniDocument {
  std::vector<IniAssignment> assignments;  // in file order
  std::vector<std::string> warnings;       // "FILE:LINE: message"
};

// Never fails as a whole: a malformed line is a warning naming FILE:LINE and is skipped.
IniDocument parse_systemd_ini(std::string_view text, std::string_view file_name);

// ---- oomd.conf ----

struct OomdDefaults {
  double memory_pressure_limit_percent = 60.0;                     // DefaultMemoryPressureLimit=
  std::chrono::microseconds memory_pressure_duration{30'000'000};  // DefaultMemoryPressureDurationSec=
  double swap_used_limit_percent = 90.0;                           // SwapUsedLimit=
  std::vector<std::string> sources;                                // files that set a value
};

// Parses oomd.conf fragments in application order (later fragments override earlier ones). Bad
// values are reported as "FILE:LINE: …" warnings and the previous value kept, as systemd does.
// An empty assignment resets the key to the upstream default; DefaultMemoryPressureDurationSec=0
// also means the upstream default (v252 manager_start() only takes a duration > 0).
OomdDefaults parse_oomd_conf(const std::vector<ConfigFile>& files, std::vector<std::string>* warnings);

// ---- Unit ManagedOOM* settings ----

// The ManagedOOM* settings of one unit after all its fragments.
struct ManagedOomSettings {
  bool memory_pressure_kill = false;                    // ManagedOOMMemoryPressure=kill (auto = false)
  std::optional<double> memory_pressure_limit_percent;  // ManagedOOMMemoryPressureLimit=; 0 = default
  std::optional<std::chrono::microseconds>
      memory_pressure_duration;     // ManagedOOMMemoryPressureDurationSec= (v257+)
  std::string preference = "none";  // ManagedOOMPreference= none|avoid|omit
  std::string source;               // the fragment that turned kill on
};
// Reads the keys from [Slice], [Service] and [Scope] (the sections that carry cgroup settings);
// other keys and sections belong to other readers and are skipped without a warning. Empty
// assignments reset a key, bad values are "FILE:LINE: …" warnings and keep the previous value.
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
