// A policy: the hand-edited TOML ladder of levels, as plain values. Parsing and validation live
// in policy_loader; evaluation in ladder. Nothing here touches the host.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
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

// What a condition measures.
enum class Signal {
  SomeAvg10,          // PSI some avg10, percent
  FullAvg10,          // PSI full avg10, percent
  SomeAvg60,
  FullAvg60,
  OomdLimitPercent,   // full avg10 as percent of oomd's limit for that cgroup (100 = at the limit)
  SecondsUntilKill,   // model's seconds until oomd would kill (no kill on course = +inf)
  MemoryHighPercent,  // memory.current as percent of memory.high (no high = 0)
  MemAvailablePercent,  // system MemAvailable as percent of MemTotal
  TriggerFired,       // a PSI trigger fired on the cgroup since the last tick (1 or 0)
};

// Which cgroups a condition looks at.
//  "system"        -> /proc/pressure/memory and /proc/meminfo
//  "oomd-watched"  -> any cgroup systemd-oomd watches (true if true for any of them)
//  otherwise       -> a cgroup path relative to the user manager ("app.slice",
//                     "container.slice/jellyfin.service"); '*' matches within one component.
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
  std::vector<Condition> exit;   // all true (for `hold`) -> step down; empty = none of `enter` true
  std::chrono::microseconds hold{10'000'000};  // minimum time at this level before leaving it
  std::vector<ActionSpec> actions;
  SourcePos pos;
};

struct SamplingSettings {
  std::chrono::microseconds interval{1'000'000};
  std::optional<PsiTriggerSpec> trigger = PsiTriggerSpec{};  // armed on every watched cgroup
};

struct Policy {
  std::string name = "default";
  std::string source;  // file path, or "<embedded default>"
  SamplingSettings sampling;
  std::vector<Level> levels;  // ordered from mildest to most severe; "normal" is implicit below them

  // Sections other stages read. Each is parsed by the loader and validated there.
  struct Metrics {
    bool enabled = true;
    std::string listen = "127.0.0.1:9464";
  } metrics;
};

}  // namespace guardian
