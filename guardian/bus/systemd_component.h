// The systemd component: everything guardian does with the user manager and systemd-oomd while
// the daemon runs, beside the loop (component/component.h).
//  - keeps container.slice at the policy's limits: checks at start, after every change
//    (PropertiesChanged) and after a reconnect; corrects at run time through act (a
//    "container-slice.correct" action: the previous value saved in the StateStore first, then
//    SetUnitProperties runtime=true); reverts the correction at stop;
//  - watches units come and go (UnitNew/UnitRemoved -> rescan) and finds podman containers
//    outside container.slice (one notice each);
//  - reads oomd's live dump every minute, reconciles it with the drop-ins the model used, hands
//    the live rules to the loop, and tells each disagreement once (systemd #43174);
//  - hears OOM kills (oomd's Killed signal, the journal, memory.events, guardian-helper), merges the
//  sightings and
//    tells one OomKill event each, with guardian's level and actions at that moment, and feeds
//    the model's post-kill pause;
//  - runs slice.balance's controller on the ticks while that mode is on, each step an action.
// Every change goes through the daemon's ActionRunner, like the ladder's actions.
// One file per concern: this one's .cpp (lifecycle, fds, kills, ticks), _slice.cpp, _containers.cpp,
// _oomd.cpp. D-Bus runs on the clients' own threads; their results come back through a Mailbox the loop
// polls, so every handler here runs on the loop thread. A dead bus is told once; the last good
// state stays in force and the clients reconnect on their own.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "act/action_runner.h"
#include "bus/bus_address.h"
#include "bus/mailbox.h"
#include "component/component.h"
#include "model/containers.h"
#include "model/oomd_live.h"
#include "sense/kill_watch.h"

namespace guardian::bus {

class SystemdClient;
class OomdClient;
class ReleasedClients;

struct SystemdComponentOptions {
  BusAddress user_bus = BusAddress::user();
  BusAddress system_bus = BusAddress::system();
  bool follow_journal = true;
  std::string slice = "container.slice";
  std::chrono::seconds dump_interval{60};
  std::chrono::seconds balance_interval{6};  // senpai's default interval
  std::string host_root;                     // for /proc/meminfo when the policy gives percentages of RAM
};

class SystemdComponent final : public DaemonComponent {
 public:
  // `actions`: the daemon's action path (and through actions.env() the state file, the slot the
  // client is plugged into, slice.balance's switch); it outlives the component.
  SystemdComponent(SystemdComponentOptions options, ActionRunner& actions);
  ~SystemdComponent() override;

  [[nodiscard]] std::string name() const override { return "systemd"; }
  void start(DaemonLoop& loop) override;
  void on_policy(const Policy& policy) override;
  void on_tick(const TickView& tick) override;
  [[nodiscard]] std::vector<int> fds() const override;
  void on_fd_ready(int fd) override;
  void on_kill_seen(const KillSeen& kill) override { on_kill(kill); }
  void stop() override;

  // The policy's [container_slice] limits, resolved to bytes (on_policy sets them; tests too).
  void set_wanted_slice(ContainerSliceWanted wanted);

  // For `guardian doctor` / status: the latest view (loop thread).
  [[nodiscard]] const std::optional<UnitProperties>& slice() const { return slice_; }
  [[nodiscard]] const std::vector<ContainerUnit>& containers() const { return containers_; }
  [[nodiscard]] const std::optional<WatchReconciliation>& oomd_view() const { return oomd_view_; }

 private:
  // A correction's action is done: it no longer blocks correct() for `property`; plans again.
  static void settle_correction(SystemdComponent* self,
                                const std::weak_ptr<std::set<std::string>>& correcting,
                                const std::string& property);
  void check_slice();
  void on_slice(Result<UnitProperties> result);
  void correct(const std::string& property, std::optional<uint64_t> now, uint64_t wanted);
  // Re-checks the slice now and then while a limit waits for the slice to use less.
  void recheck_deferred(MonoTime now);
  void refresh_containers();
  // What the oomd client's bus thread needs to reconcile a dump: the drop-in rules the model
  // used and the user manager's path. Replaced, never changed, when either changes on the loop.
  struct DumpInputs {
    std::vector<WatchedCgroup> dropin_rules;
    std::string user_manager_path;
  };
  // A dump made ready for the loop on the bus thread: parsed, reconciled against `inputs`, and
  // the events it may tell written, each with the key it is told once under.
  struct ReadyDump {
    struct Told {
      std::string key;
      Event event;
      bool missing_from_live = false;  // told only once the slice has had time to appear
    };
    std::shared_ptr<const DumpInputs> inputs;
    std::optional<OomdDump> dump;  // nullopt: the call or the parse failed (`told` says why)
    bool call_failed = false;
    std::optional<WatchReconciliation> reconciliation;
    std::vector<Told> told;
  };
  static ReadyDump reconciled(std::shared_ptr<const DumpInputs> inputs, OomdDump live);
  void set_dump_inputs();
  [[nodiscard]] std::shared_ptr<const DumpInputs> dump_inputs() const;

  void refresh_dump();
  void check_oom_kill_counts(const Snapshot& snapshot);
  void prepare_dump(Result<std::string> text);  // the bus thread
  void on_dump(ReadyDump ready);                // the loop
  void use_reconciled(ReadyDump ready, bool tell_missing);
  // Live dump vs. drop-in rules: tell differences (a cgroup oomd does not list yet only when
  // `tell_missing`), hand the live rules to the loop.
  void reconcile(bool tell_missing = true);
  [[nodiscard]] bool live_lacks_dropin_cgroups() const;
  void on_kill(const KillSeen& kill);
  void run_balance(const TickView& tick);
  void tell_once(const std::string& key, Event event);

  SystemdComponentOptions options_;
  ActionRunner& actions_;
  // Clients deleted from a thread of their own (make_shared_systemd_client); stop() waits for them.
  std::shared_ptr<ReleasedClients> released_;
  Mailbox mailbox_;  // declared first: destroyed after the clients whose threads post into it
  std::shared_ptr<SystemdClient> systemd_;
  std::unique_ptr<OomdClient> oomd_;
  std::unique_ptr<JournalKillReader> journal_;
  DaemonLoop* loop_ = nullptr;

  ContainerSliceWanted wanted_;
  std::optional<UnitProperties> slice_;
  // State key -> the latest correction of that property (reverted at stop); keys here were saved
  // by corrections, not by the ladder's actions.
  std::map<std::string, std::shared_ptr<Action>> corrections_;
  // Properties with a correction on its way to the manager: the unit's next PropertiesChanged
  // may still show the old value, which must not start a second, identical correction.
  // Shared with the correction jobs' done callbacks, which hold it weakly: the runner outlives the
  // component and may deliver a result after it is gone (a revert submitted by stop()).
  std::shared_ptr<std::set<std::string>> correcting_ = std::make_shared<std::set<std::string>>();
  // Properties whose policy value waits for the slice to use less (SliceLimitPlan::Defer).
  std::set<std::string> deferred_;
  MonoTime last_deferred_check_{};
  static constexpr std::chrono::seconds kDeferredCheckInterval{30};
  std::vector<ContainerUnit> containers_;
  std::optional<WatchReconciliation> oomd_view_;
  std::optional<OomdDump> live_dump_;
  std::vector<WatchedCgroup> dropin_rules_;
  mutable std::mutex dump_inputs_mutex_;  // dump_inputs_: set on the loop, read on the bus thread
  std::shared_ptr<const DumpInputs> dump_inputs_;
  std::set<std::string> told_;  // keys of things said once
  bool rescan_containers_ = true;
  bool user_bus_seen_ = false;  // "lost" vs "cannot reach" in the message  // the first tick lists them
  std::string user_manager_path_;

  KillMerger merger_;
  // memory.events oom_kill of every cgroup at the last tick, in the snapshot's order.
  std::vector<std::pair<std::string, uint64_t>> oom_kill_counts_;
  std::string level_ = "normal";
  std::vector<std::string> active_actions_;

  MonoTime last_dump_{};
  // Until then oomd's list is read every 2 s while it lacks a cgroup the drop-ins name.
  MonoTime fast_dumps_until_{};
  MonoTime quiet_missing_until_{};  // a slice that just appeared: oomd may not list it yet
  static constexpr std::chrono::seconds kFastDumpWindow{30};
  static constexpr std::chrono::seconds kCallTimeout{2};  // every D-Bus call and every change
  MonoTime last_balance_{};
  std::map<std::string, uint64_t> balance_totals_;  // cgroup path -> PSI some total at last step
};

}  // namespace guardian::bus
