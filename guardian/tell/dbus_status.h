// What guardian's D-Bus API shows (guardian/tell/dbus/io.github.guardian.Guardian1.xml), as
// plain values: the daemon builds one from each tick (status_from_tick), `guardian status` reads
// one back over the bus and prints it as a table or JSON.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace guardian {

struct TickView;

inline constexpr std::string_view kDbusBusName = "io.github.guardian.Guardian1";
inline constexpr std::string_view kDbusObjectPath = "/io/github/guardian/Guardian1";
inline constexpr std::string_view kDbusInterface = "io.github.guardian.Guardian1";

// One cgroup systemd-oomd watches (the WatchedCgroups property, a(sdddbdds)).
struct WatchedCgroupStatus {
  std::string path;
  double full_avg10 = 0;     // percent
  double limit_percent = 0;  // oomd's limit, percent
  double duration_s = 0;     // oomd's duration, seconds
  bool over_limit = false;
  double seconds_over = 0;
  std::optional<double> seconds_until_kill;  // on the bus: -1 = no kill on course
  std::string likely_victim;                 // "" = none
  friend bool operator==(const WatchedCgroupStatus&, const WatchedCgroupStatus&) = default;
};

struct DaemonStatus {
  std::string level = "normal";
  uint32_t level_index = 0;
  std::vector<WatchedCgroupStatus> watched;
  double system_some_avg10 = 0;
  double system_full_avg10 = 0;
  std::vector<std::string> active_actions;
  std::string policy_path;
  bool dry_run = false;
  std::string mode = "system-only";  // "full" or "system-only"
  std::string mode_reason;
  std::string version;
  std::string explanation;         // Explain()
  double tick_lateness_max_s = 0;  // the loop's largest timer lateness over the last minute
  std::string memory_lock;         // MemoryLockStatus::describe()
  std::string wake_source;         // own PSI triggers or guardian-helper's pressure watches
  friend bool operator==(const DaemonStatus&, const DaemonStatus&) = default;
};

// The D-Bus view of a finished tick (the TickView's pointers may be null: those parts stay at
// their defaults).
DaemonStatus status_from_tick(const TickView& tick);
// The same into a status the caller keeps (the D-Bus service's, every tick): fields are assigned
// in place, so once their storage has grown an unchanged tick allocates nothing.
void status_from_tick(const TickView& tick, DaemonStatus& status);

// `guardian status --json`: one object, keys documented in units/README.md.
nlohmann::json status_to_json(const DaemonStatus& status);

// `guardian status`: a readable table for a terminal.
std::string format_status_table(const DaemonStatus& status);

}  // namespace guardian
