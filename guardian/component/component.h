// A daemon component: a part that lives beside the sense -> model -> decide -> act -> tell loop
// and needs its ticks, its events or its own fds (the metrics exporter, guardian's D-Bus API,
// the systemd and Jellyfin watchers). The loop owns the components and calls them from its one
// thread; a component must never block — slow work goes to its own thread or to the action
// worker, and results come back through an fd the component gives the loop.
//
// This header is the contract between the daemon and its components, below both: tell, bus and
// jellyfin implement components without depending on the daemon.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/event.h"
#include "common/helper_wire.h"
#include "config/policy.h"
#include "decide/ladder.h"
#include "model/oomd_model.h"
#include "model/user_budget.h"
#include "sense/kill_watch.h"
#include "sense/self_watch.h"
#include "sense/snapshot.h"

namespace guardian {

// A read-only view of one finished tick, valid only during the call.
struct TickView {
  const Snapshot* snapshot = nullptr;
  const HostLayout* layout = nullptr;
  const std::vector<OomdCgroupState>* oomd = nullptr;
  // oomd's rule as the unit drop-ins state it (the model may run on oomd's live list instead).
  const std::vector<WatchedCgroup>* oomd_dropin_rules = nullptr;
  const Policy* policy = nullptr;
  const LadderState* ladder = nullptr;
  std::string level_name;
  std::string explanation;                  // why this level (Decision::explanation)
  std::vector<std::string> active_actions;  // "level/type" of every applied action
  bool dry_run = false;
  // guardian itself: how late its loop read the tick timer, whether its memory is locked.
  const TickLateness* lateness = nullptr;
  const MemoryLockStatus* memory_lock = nullptr;
  // The approach to the user's memory budget (model/user_budget.h); null when not modelled.
  const UserBudget* user_budget = nullptr;
  // memory_lock->describe(), made by the loop when the lock changes (not on every tick); empty =
  // not made, describe it when needed.
  std::string_view memory_lock_description;
  // What wakes the loop between ticks: guardian's own PSI triggers or guardian-helper's pressure
  // watches (daemon/helper_link.h), made when it changes.
  std::string_view wake_source;
};

// What the loop offers its components: the narrow host interface. All calls on the loop thread.
// A component that changes the system gets act's objects from the daemon when it is made
// (daemon/components.cpp), not through here.
class DaemonLoop {
 public:
  virtual ~DaemonLoop() = default;
  virtual void request_reload() = 0;                      // as SIGHUP: reload the policy file
  virtual void request_rescan() = 0;                      // re-walk cgroups on the next tick
  virtual void request_tick() = 0;                        // sample again now (e.g. an oomd kill seen)
  virtual void tell(const Event& event) = 0;              // journal + every component
  virtual void note_oomd_kill(MonoTime when) = 0;         // feeds the model's 15 s post-kill pause
  [[nodiscard]] virtual std::string explain() const = 0;  // why the current level
  // systemd-oomd's live watch list (its D-Bus dump) replaces the drop-in reading in the model:
  // oomd does not always watch what the drop-ins say (systemd #43174). Default: ignored. By
  // reference: the same list every minute is compared, not copied.
  virtual void use_live_oomd_rules(const std::vector<WatchedCgroup>& /*rules*/) {}
};

class DaemonComponent : public EventSink {
 public:
  ~DaemonComponent() override = default;
  [[nodiscard]] virtual std::string name() const = 0;
  // Called once at start-up, before saved state is restored, the policy applied and the first
  // tick taken (READY=1 follows that tick). A component serving clients answers them only from
  // its first on_tick, when there is a status to give.
  virtual void start(DaemonLoop& /*loop*/) {}
  // Called with every policy that comes into force (at start and after each good reload).
  virtual void on_policy(const Policy& /*policy*/) {}
  virtual void on_tick(const TickView& /*tick*/) {}
  void emit(const Event& /*event*/) override {}
  // fds the loop should poll for this component (EPOLLIN), and what to do when one is ready.
  [[nodiscard]] virtual std::vector<int> fds() const { return {}; }
  virtual void on_fd_ready(int /*fd*/) {}
  // What sense saw between ticks, handed on the moment the loop reads it (guardian-helper's
  // events, daemon/helper_link.h): an OOM kill, to merge with the same kill seen by polling;
  // a watched program (ffmpeg, ffprobe) started.
  virtual void on_kill_seen(const KillSeen& /*kill*/) {}
  virtual void on_process_started(const helper_wire::ProcessExec& /*exec*/) {}
  // Called when the daemon stops (after actions are unwound).
  virtual void stop() {}
};

}  // namespace guardian
