// A policy: the hand-edited TOML ladder of levels, as plain values. Parsing and validation live
// in policy_loader; evaluation in ladder. Nothing here touches the host.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/units.h"
#include "sense/psi_trigger.h"

namespace guardian {

// Where something came from in a policy file, for FILE:LINE:COL messages.
struct SourcePos {
  std::string file;
  uint32_t line = 0;
  uint32_t column = 0;
};

// What a condition measures. Each has one row in config/signals.cpp (its name, threshold range,
// where it is measured, which side is worse, how it is read); a new signal is an enumerator here,
// at the end, and its row there.
enum class Signal {
  SomeAvg10,  // PSI some avg10, percent
  FullAvg10,  // PSI full avg10, percent
  SomeAvg60,
  FullAvg60,
  OomdLimitPercent,          // full avg10 as percent of oomd's limit for that cgroup (100 = at the limit)
  SecondsUntilKill,          // model's seconds until oomd would kill (no kill on course = +inf)
  MemoryHighPercent,         // memory.current as percent of memory.high (no high = 0)
  MemAvailablePercent,       // system MemAvailable as percent of MemTotal
  TriggerFired,              // a PSI trigger fired on the cgroup since the last tick (1 or 0)
  BudgetUsedPercent,         // the user's memory budget in use, percent (model/user_budget.h)
  SecondsToBudgetExhausted,  // the budget's predicted run-out at its slope (not running out = +inf)
};

// Which cgroups a condition looks at.
//  "system"        -> /proc/pressure/memory and /proc/meminfo
//  "oomd-watched"  -> every cgroup systemd-oomd watches
//  "user"          -> the user's memory budget: user@UID.service against the smallest limit of it
//                     and its ancestors, capped by MemAvailable (the whole machine without a user
//                     manager). One value, and the only selector the budget signals take.
//  otherwise       -> a cgroup path relative to the user manager ("app.slice",
//                     "container.slice/jellyfin.service"); '*' matches within one component.
// When the selector matches several cgroups the condition compares their most severe value (the
// highest, or for seconds_until_kill the lowest): `above` holds when any of them is above,
// `below` only when all of them are below — so an exit condition never fires while one watched
// cgroup is still hot. No matching cgroup (or no value, e.g. memory.pressure unreadable): the
// condition is false; as an exit condition it is skipped instead, so a vanished cgroup (or a host
// without oomd-watched cgroups) cannot pin a level — see Level::exit.
struct Condition {
  Signal signal = Signal::FullAvg10;
  std::string cgroup = "oomd-watched";
  enum class Compare { Above, Below } compare = Compare::Above;
  double threshold = 0;
  SourcePos pos;
};

// An action argument as written in the policy.
using ParamValue = std::variant<bool, int64_t, double, std::string, std::vector<std::string>>;
struct Param {
  ParamValue value;
  SourcePos pos;
};

struct ActionSpec {
  std::string type;  // registry name: "log", "notify", "slice.set-memory-high", …
  std::map<std::string, Param> params;
  SourcePos pos;
};

struct Level {
  std::string name;
  std::vector<Condition> enter;  // any true -> enter (or stay)
  // Step down when none of `enter` holds, `hold` has passed since entry, and every exit condition
  // that can be measured holds (empty, or nothing measurable: "none of enter holds" suffices).
  std::vector<Condition> exit;
  std::chrono::microseconds hold{10'000'000};  // minimum time at this level before leaving it
  std::vector<ActionSpec> actions;
  SourcePos pos;
};

struct SamplingSettings {
  std::chrono::microseconds interval{1'000'000};
  std::optional<PsiTriggerSpec> trigger = PsiTriggerSpec{};  // armed on every watched cgroup
};

// [[jellyfin]]: one Jellyfin server guardian watches and steers (docs/jellyfin.md). Several may
// be listed; actions name theirs with `instance = "…"` (optional when there is only one).
struct JellyfinInstanceSettings {
  std::string name = "jellyfin";
  std::string url = "http://127.0.0.1:8096";
  std::string api_key_file;                 // a file only its owner can read, or …
  std::string credential;                   // … a systemd credential name ($CREDENTIALS_DIRECTORY/NAME)
  std::chrono::milliseconds timeout{2000};  // per request
  // per request of an action (jellyfin::Client::for_actions), when longer than `timeout`
  std::chrono::milliseconds action_timeout{6000};
  std::chrono::milliseconds poll_interval{5000};  // GET /Sessions
  // The instance's cgroup, where its ffmpeg children run: relative to the user manager
  // ("container.slice/jellyfin.service") or absolute from the cgroup2 mount ("/system.slice/…").
  std::string cgroup;
  unsigned failure_threshold = 3;                 // circuit breaker: failures before it opens
  std::chrono::milliseconds retry_after{30'000};  // … and how long it stays open at first
  std::string render_node = "/dev/dri/renderD128";
  // jellyfin.stop-lowest-priority: lower = stopped first. By user name, then by client name.
  std::map<std::string, int64_t> user_priority;
  std::map<std::string, int64_t> client_priority;
  int64_t default_priority = 50;
  SourcePos pos;
};

// The rule for a [[jellyfin]] name: 1 to 64 letters, digits, '-' or '_'. The name becomes part of
// state file keys and of the Authorization header, so a name read back from the state file is
// checked with it too.
bool valid_jellyfin_instance_name(std::string_view name);

// Caps on a policy (README "Reliability"), checked before and while it is parsed: far above a real
// policy (policies/ has 7 KB, 4 levels, 6 actions a level) and far below what would make guardian's
// own memory matter next to its unit's MemoryHigh=48M (the largest file accepted parses in a few MB).
inline constexpr size_t kMaxPolicyBytes = 256 * 1024;
inline constexpr size_t kMaxLevels = 32;
inline constexpr size_t kMaxActionsPerLevel = 32;

struct Policy {
  std::string name = "default";  // top-level `name`, else the file's stem
  std::string source;            // file path, or "<embedded default>"
  SamplingSettings sampling;
  std::vector<Level> levels;  // ordered from mildest to most severe; "normal" is implicit below them

  // Sections other stages read. Each is parsed by the loader and validated there.
  struct Metrics {
    bool enabled = true;
    std::string listen = "127.0.0.1:9464";
  } metrics;

  // [approach]: climb before memory pressure shows, when the user's memory budget is predicted to
  // run out (model/user_budget.h). On by default, onto the first level.
  struct Approach {
    bool enabled = true;
    std::string level;                            // the level to climb to; "" = the first
    double within_seconds = 60;                   // predicted exhaustion sooner than this…
    double used_percent = 80;                     // …and at least this share of the budget used
    std::chrono::microseconds window{5'000'000};  // the slope's window
    // A full budget is a fact, not a prediction: the slope of a budget at its limit is noise
    // around zero. At or above `full_percent` the approach holds ("exhausted now") while the
    // user's file refaults show its working set no longer fits, and only then: a full page cache
    // with no refaults is a normal budget. Measured in the Debian 12 VM (tests/vm, sqg-proto-1,
    // sqj-s21-*): at the budget memory.current sat at 99.5-101% of memory.high; refaults
    // > 256 pages/s came 2-3 s after the budget was reached and stayed at 280-15000 pages/s
    // while oomd's pressure built, and fell to 0-110 pages/s when the working set fitted again.
    double full_percent = 98;
    double refault_pages_per_second = 256;
    // Hysteresis: at its level the approach also holds while `used_percent` is used and refaults
    // reach this (a quarter of the entry rate). In the VM (sqj-s22-g2), after cap-bitrate freed
    // 210 MiB the budget sat at 83-90% with refaults of 116-741 pages/s; they fell to 0-80 once
    // the working set fitted.
    double hold_refault_pages_per_second = 64;
    // The rebound rule: the approach's level is not left while the budget would be at
    // `used_percent` again if the memory its own actions hold back came back (used + held back
    // >= used_percent of the budget; model/action_relief.h): in the VM (sqj-s22-g4) cap-bitrate's
    // 232 MiB brought the budget from full to 86%, the level was left, the cap reverted and the
    // level entered again 2 s later. For at most this long at a stretch (0 = the rule is off):
    // relief that never comes back (the sessions ended by themselves) must not hold a level for
    // ever. Ten minutes: longer than the VM's squeezes (the workload runs 5 min), the remainder
    // of a typical episode a capped client is watching; short enough that a client is not capped
    // for the evening after its viewer left. A flap costs two reloads of a stream and a revert
    // into the shortage; ten more minutes at `elevated` cost 720p and a paused trickplay.
    std::chrono::microseconds max_rebound_hold{600'000'000};
    SourcePos pos;
  } approach;

  // [container_slice]: the limits guardian keeps container.slice at, and slice.balance's band.
  struct ContainerSlice {
    std::string unit = "container.slice";
    std::optional<SizeSpec> memory_high;
    std::optional<SizeSpec> memory_max;
    std::optional<SizeSpec> floor;    // slice.balance never sets MemoryHigh below this
    std::optional<SizeSpec> ceiling;  // … nor above this
    // correction = "raise-only" (default): memory_high/memory_max only ever raise a limit found on
    // the slice, or set one where none is (never below what the slice uses now); a limit the user
    // set is kept (decide/slice_limits.h). "hard": set them whatever is found.
    bool hard_correction = false;
  } container_slice;

  // [containers]: which containers' units matter. unit.freeze may only name low_priority ones,
  // and never a protected one.
  struct Containers {
    std::vector<std::string> protected_units;     // "jellyfin.service"
    std::vector<std::string> low_priority_units;  // "immich-ml.service"
  } containers;
  std::vector<JellyfinInstanceSettings> jellyfin;
};

}  // namespace guardian
