// systemd-oomd's live view: the text of org.freedesktop.oom1.Manager.DumpByFileDescriptor()
// (the same text `oomctl` prints), parsed. The format is systemd's src/oom/oomd-manager.c
// manager_get_dump_string() and oomd-util.c oomd_dump_*_context():
//
//   Dry Run: no
//   Swap Used Limit: 90.00%
//   Default Memory Pressure Limit: 60.00%
//   Default Memory Pressure Duration: 20s
//   System Context:
//   \tMemory: Used: 10.1G Total: 30.6G          (v257+: "Used: 10.1G, Total: 30.6G")
//   \tSwap: Used: 0B Total: 8.0G
//   Swap Monitored CGroups:
//   \tPath: /
//   \t\tSwap Usage: (see System Context)
//   Memory Pressure Monitored CGroups:
//   \tPath: /user.slice/user-1000.slice/user@1000.service
//   \t\tMemory Pressure Limit: 50.00%
//   \t\tMemory Pressure Duration: 20s             (v257+ only: per-unit duration)
//   \t\tPressure: Avg10: 0.00 Avg60: 0.00 Avg300: 0.00 Total: 0   (v257+: comma separated)
//   \t\tCurrent Memory Usage: 1.1G
//   \t\tMemory Min: 0B
//   \t\tMemory Low: 0B
//   \t\tPgscan: 0
//   \t\tLast Pgscan: 0
//
// Both layouts (Debian 12's 252 and 257+) are accepted.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace guardian {

struct OomdDumpCgroup {
  std::string path;  // cgroup path relative to the cgroup2 mount
  double limit_percent = 0;
  std::optional<std::chrono::microseconds> duration;  // per cgroup from v257; else the default
  std::optional<double> avg10, avg60, avg300;         // full avg10 etc. as oomd last read them
  std::optional<uint64_t> current_bytes;              // "Current Memory Usage" (rounded by systemd)
  std::optional<uint64_t> pgscan;
};

struct OomdDump {
  bool dry_run = false;
  std::optional<double> swap_used_limit_percent;
  double default_limit_percent = 60.0;
  std::chrono::microseconds default_duration{30'000'000};
  std::vector<std::string> swap_monitored;         // paths of "Swap Monitored CGroups"
  std::vector<OomdDumpCgroup> pressure_monitored;  // "Memory Pressure Monitored CGroups"
};

// Parses the dump. Unknown keys are skipped (newer oomd versions add lines); a line that is not
// "Key: value" where one is expected, a limit that is not a percentage, or a missing
// "Memory Pressure Monitored CGroups:" section is an error naming the line.
Result<OomdDump> parse_oomd_dump(std::string_view text);

// systemd's FORMAT_BYTES rendering ("0B", "517.3M", "1.1G") back to bytes (approximate).
std::optional<uint64_t> parse_format_bytes(std::string_view text);

}  // namespace guardian
