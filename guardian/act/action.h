// The one interface every action goes through. apply() and revert() run on the action worker
// thread, never on the event loop; each gets a deadline and must return by it (pass it on to
// every timeout it sets). Before an action first changes something the user owns, it saves the
// original value in the StateStore, so revert() — or a later guardian after a crash — can put
// it back.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "decide/policy.h"

namespace guardian {

class StateStore;
class EventTeller;
class HostRoot;
class JellyfinSteering;

using Deadline = std::chrono::steady_clock::time_point;

struct ActionResult {
  enum class Outcome { Applied, Reverted, Unchanged, Failed, TimedOut } outcome = Outcome::Applied;
  std::string detail;  // human text: what changed ("MemoryHigh 8G -> 6G"), or why it failed
  // A failed apply worth trying again while its level holds (a server that did not answer now
  // may answer in a second): the daemon retries it, with backoff and a bound.
  bool retry = false;
};
std::string_view outcome_name(ActionResult::Outcome outcome);

class Action {
 public:
  virtual ~Action() = default;
  [[nodiscard]] virtual const std::string& type() const = 0;
  // Short description of what apply would do, for dry runs and logs.
  [[nodiscard]] virtual std::string describe() const = 0;
  virtual ActionResult apply(Deadline deadline) = 0;
  virtual ActionResult revert(Deadline deadline) = 0;
};

// What an action may use. Owned by the daemon, outlives every action.
struct ActionEnv {
  const HostRoot* host = nullptr;
  StateStore* state = nullptr;
  EventTeller* teller = nullptr;         // for actions whose whole effect is telling (log, notify)
  JellyfinSteering* jellyfin = nullptr;  // the Jellyfin instances and what guardian changed there
  bool dry_run = false;
  // Where the action sits in the ladder, set by the daemon for each action it creates: what an
  // action saves is keyed by level and action, so the same action at two levels keeps two records.
  std::string level;
  size_t level_number = 0;  // 1-based, as in ActionCommand
  size_t action_index = 0;
};

// Restores a value saved in the StateStore by an earlier guardian (crash recovery). Registered
// per saved-value kind ("systemd.unit-property", "jellyfin.encoding-options", …).
using Restorer =
    std::function<Result<void>(const std::string& key, const std::string& original_json, Deadline deadline)>;

class ActionRegistry {
 public:
  struct Entry {
    // Checks arguments; returns one message per problem (the loader adds FILE:LINE:COL).
    std::function<std::vector<std::pair<std::string, SourcePos>>(const ActionSpec&)> validate;
    std::function<Result<std::unique_ptr<Action>>(const ActionSpec&, const ActionEnv&)> create;
    std::string summary;  // one line for `guardian check-policy --list-actions` and the README
  };

  void add(const std::string& type, Entry entry);
  [[nodiscard]] const Entry* find(const std::string& type) const;
  [[nodiscard]] std::vector<std::string> types() const;

  void add_restorer(const std::string& kind, Restorer restorer);
  [[nodiscard]] const Restorer* restorer(const std::string& kind) const;

 private:
  std::map<std::string, Entry> entries_;
  std::map<std::string, Restorer> restorers_;
};

// The registry with every action guardian ships.
ActionRegistry& builtin_actions();

}  // namespace guardian
