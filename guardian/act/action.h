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
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/action_catalog.h"
#include "config/policy.h"
#include "model/action_relief.h"

namespace guardian {

class StateStore;
class EventTeller;
class HostRoot;
class JellyfinSteering;
class UnitManagerSlot;
class BalanceSwitch;
class LowerGuardBoard;
class DesktopNotices;

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

// What an action may use. Everything it points to is owned by the daemon and outlives every
// action; components that fill or read a part (the systemd component plugs the user manager in
// and runs slice.balance's controller, the Jellyfin watcher keeps the instances current) get
// the same pointers.
struct ActionEnv {
  const HostRoot* host = nullptr;
  StateStore* state = nullptr;
  EventTeller* teller = nullptr;         // for actions whose whole effect is telling (log, notify)
  JellyfinSteering* jellyfin = nullptr;  // the Jellyfin instances and what guardian changed there
  bool dry_run = false;
  UnitManagerSlot* systemd = nullptr;      // the user manager (act/unit_manager.h)
  BalanceSwitch* balance = nullptr;        // slice.balance's mode (act/systemd_actions.h)
  LowerGuardBoard* lower_guard = nullptr;  // oomd's view for limits going down (systemd_actions.h)
  DesktopNotices* notices = nullptr;       // the desktop notification `notify` updates (desktop_notice.h)
  // Where the action sits in the ladder, set by the daemon for each action it creates: what an
  // action saves is keyed by level and action, so the same action at two levels keeps two records.
  std::string level;
  size_t level_number = 0;  // 1-based, as in ActionCommand
  size_t action_index = 0;
};

// Restores a value saved in the StateStore by an earlier guardian (crash recovery). Registered
// per saved-value kind ("systemd.unit-property", …); the Jellyfin kinds are restored by
// JellyfinSteering once the policy names their instances (ActionRunner::restore_jellyfin).
using Restorer = std::function<Result<void>(const ActionEnv& env, const std::string& key,
                                            const std::string& original_json, Deadline deadline)>;

// Whether the policy in force lets a saved entry of one kind be restored at start: the state file
// is input, not orders, so a restorer acts only on what the policy manages (act/restore rules in
// each kind's file). An error says why not; the entry is then reported and kept. Pure.
using RestoreAdmission = std::function<Result<void>(const Policy& policy, const std::string& key,
                                                    const std::string& original_json)>;

// Every action type with its checks and its factory, and the restorers by saved-value kind. The
// policy loader sees it as an ActionCatalog (config/action_catalog.h).
class ActionRegistry final : public ActionCatalog {
 public:
  struct Entry {
    // Checks arguments; returns one message per problem (the loader adds FILE:LINE:COL).
    std::function<std::vector<std::pair<std::string, SourcePos>>(const ActionSpec&)> validate;
    std::function<Result<std::unique_ptr<Action>>(const ActionSpec&, const ActionEnv&)> create;
    std::string summary;  // one line for `guardian check-policy --list-actions` and the README
    // The cgroup whose memory this action holds down while applied and its revert gives back,
    // which [approach]'s rebound rule measures (model/action_relief.h). Unset or nullopt: none
    // (log and notify; a respawn or a stopped stream, whose revert gives nothing back; unit.thaw).
    std::function<std::optional<ReliefTarget>(const ActionSpec&, const Policy&)> relief_target;
  };

  void add(const std::string& type, Entry entry);
  [[nodiscard]] const Entry* find(const std::string& type) const;
  [[nodiscard]] std::vector<std::string> types() const override;

  // ActionCatalog
  [[nodiscard]] bool has_type(const std::string& type) const override { return find(type) != nullptr; }
  [[nodiscard]] std::vector<std::pair<std::string, SourcePos>> check(const ActionSpec& spec) const override;

  // A kind's restorer and the rule that says which of its entries the policy lets it restore.
  void add_restorer(const std::string& kind, Restorer restorer, RestoreAdmission admit);
  [[nodiscard]] const Restorer* restorer(const std::string& kind) const;
  [[nodiscard]] const RestoreAdmission* admission(const std::string& kind) const;

 private:
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::pair<Restorer, RestoreAdmission>> restorers_;
};

// The registry with every action guardian ships: built once, read-only after that (the actions
// reach what they change through the ActionEnv they are made with, not through the registry).
const ActionRegistry& builtin_actions();

// The relief targets of each level's actions (index = level - 1), for ActionReliefModel.
std::vector<std::vector<ReliefTarget>> level_relief_targets(const ActionRegistry& registry,
                                                            const Policy& policy);

}  // namespace guardian
