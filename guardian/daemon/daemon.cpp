// The daemon loop. One thread; every tick runs the stages in order:
//   sense (Sampler) -> model (OomdModel) -> decide (ladder) -> act (ActionWorker) -> tell.
// Nothing here blocks for long: reading cgroup files is a few hundred preads, actions run on the
// worker thread, components own their slow work.
#include "daemon/daemon.h"

#include <pwd.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "act/action.h"
#include "act/action_runner.h"
#include "act/desktop_notice.h"
#include "act/jellyfin_steering.h"
#include "act/state_store.h"
#include "act/systemd_actions.h"
#include "act/unit_manager.h"
#include "common/fd.h"
#include "common/host_root.h"
#include "config/policy_loader.h"
#include "daemon/apply_retry.h"
#include "daemon/helper_link.h"
#include "daemon/shared_pages_keeper.h"
#include "daemon/systemd_notifier.h"
#include "daemon/watchdog_pinger.h"
#include "decide/ladder.h"
#include "decide/reload.h"
#include "jellyfin/instances.h"
#include "model/action_relief.h"
#include "model/desktop_apps.h"
#include "model/oomd_model.h"
#include "model/oomd_rules.h"
#include "model/user_budget.h"
#include "sense/psi_trigger.h"
#include "sense/sampler.h"
#include "tell/journal.h"
#include "tell/queued_sink.h"

namespace guardian {
namespace {

std::string fmt(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

// A path relative to the user manager for messages ("app.slice"), or the full path.
std::string short_cgroup(const std::string& path, const std::string& user_manager) {
  if (!user_manager.empty() && path.starts_with(user_manager + "/"))
    return path.substr(user_manager.size() + 1);
  return path;
}

// The watched cgroup closest to an oomd kill: the soonest predicted kill, else the one nearest
// its limit. nullptr when none is present.
const OomdCgroupState* nearest_to_kill(const std::vector<OomdCgroupState>& states) {
  const OomdCgroupState* nearest = nullptr;
  for (const auto& state : states) {
    if (!state.present) continue;
    if (nearest == nullptr) {
      nearest = &state;
    } else if (state.seconds_until_kill && nearest->seconds_until_kill) {
      if (*state.seconds_until_kill < *nearest->seconds_until_kill) nearest = &state;
    } else if (state.seconds_until_kill) {
      nearest = &state;
    } else if (!nearest->seconds_until_kill && state.limit_fraction > nearest->limit_fraction) {
      nearest = &state;
    }
  }
  return nearest;
}

// Touches the next `bytes` of the loop thread's stack below the caller, so its pages exist
// (and, locked on fault, stay) before memory runs short: a deeper call later needs no new page.
[[gnu::noinline]] void prefault_stack(size_t bytes) {
  auto* area = static_cast<volatile char*>(__builtin_alloca(bytes));
  for (size_t i = 0; i < bytes; i += 4096) area[i] = 0;
}

class Daemon final : public DaemonLoop {
 public:
  explicit Daemon(DaemonOptions options, MemoryLockStatus early_lock)
      : options_(std::move(options)),
        memory_lock_(std::move(early_lock)),
        memory_lock_text_(memory_lock_.describe()),
        host_(options_.host_root),
        sampler_(host_, SamplerOptions{options_.uid, true, 5}),
        state_(options_.state_path == ":memory:" ? std::string()
               : options_.state_path.empty()     ? StateStore::default_path()
                                                 : options_.state_path),
        jellyfin_(state_, jellyfin_instances_, &host_),
        notices_(host_, options_.data_dirs, &teller_),
        actions_(env_, [this](const Event& event) { teller_.emit(event); }),
        helper_(options_.helper_socket, helper_handlers()) {
    const bool journal = options_.log_target == DaemonOptions::LogTarget::Journal ||
                         (options_.log_target == DaemonOptions::LogTarget::Auto && journal_available());
    sink_ = journal ? static_cast<EventSink*>(&journal_sink_) : &stderr_sink_;
    queued_sink_.start(sink_);
    teller_.add_sink(&queued_sink_);
    env_.host = &host_;
    env_.state = &state_;
    env_.teller = &teller_;
    env_.dry_run = options_.dry_run;
    env_.systemd = &user_manager_;
    env_.balance = &balance_;
    env_.jellyfin = &jellyfin_;
    env_.lower_guard = &lower_guard_;
    env_.notices = &notices_;
  }

  ~Daemon() override {
    for (auto& component : components_) teller_.remove_sink(component.get());
    notices_.plug(nullptr);  // its bus thread ends while everything it calls back into is alive
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  int run();

  // DaemonLoop
  void request_reload() override { reload_requested_ = true; }
  void request_rescan() override {
    sampler_.request_rescan();
    rules_stale_ = true;
  }
  void request_tick() override { tick_requested_ = true; }
  void tell(const Event& event) override { teller_.emit(event); }
  void note_oomd_kill(MonoTime when) override { model_.note_kill(when); }
  // oomd's live list (the systemd component reads its dump) wins over the drop-in reading.
  void use_live_oomd_rules(const std::vector<WatchedCgroup>& rules) override {
    live_rules_ = true;
    if (rules == model_.rules()) return;
    model_.set_rules(rules);
    arm_triggers();
  }
  [[nodiscard]] std::string explain() const override { return explanation_; }

 private:
  Result<Policy> read_policy();
  [[nodiscard]] std::string where_policy_came_from() const;
  void apply_policy(Policy policy);
  void reload();
  void submit_apply(std::pair<size_t, size_t> key, std::shared_ptr<Action> action, std::string label,
                    std::string level);
  std::string schedule_retry(std::pair<size_t, size_t> key, const ActionJobResult& done);
  void submit_due_retries();
  void refresh_rules(const Snapshot& snapshot);
  void arm_triggers();
  [[nodiscard]] bool is_trigger_fd(int fd) const {
    return std::any_of(triggers_.begin(), triggers_.end(),
                       [fd](const PsiTrigger& t) { return t.fd() == fd; });
  }
  Result<void> set_timer();
  void tick();
  void execute(const Decision& decision);
  void unwind_all();
  void print_status_line(const Snapshot& snapshot);
  void notify_systemd(bool ready);
  [[nodiscard]] std::vector<std::string> active_action_labels() const;
  [[nodiscard]] DesktopPicture desktop_picture() const;
  HelperHandlers helper_handlers();
  void on_prekill(const helper_wire::PrekillNotice& notice);
  void watch_helper();

  void lock_loop_memory();
  void read_timer(int fd);

  DaemonOptions options_;
  MemoryLockStatus memory_lock_;
  std::string memory_lock_text_;  // memory_lock_.describe(), made when the lock changes
  TickLateness lateness_;
  HostRoot host_;
  Sampler sampler_;
  OomdModel model_;
  // The user's memory budget and its approach ([approach]); the ancestors' limits come with the
  // sampler's snapshot.
  UserBudgetModel budget_model_;
  // What the active levels' actions hold back ([approach]'s rebound rule): the targets come from
  // the policy through the action registry, the figures from the sampler's snapshot.
  ActionReliefModel relief_model_;
  StateStore state_;
  // What act needs beyond the state file, owned here and handed to the actions (env_) and to the
  // components that fill or read them: the user manager the systemd component plugs in,
  // slice.balance's switch, the Jellyfin instances the watcher keeps current and what guardian
  // changed in them (the steering, restored through the policy's instances).
  UnitManagerSlot user_manager_;
  BalanceSwitch balance_;
  LowerGuardBoard lower_guard_;  // oomd's view for actions that lower a limit
  jellyfin::InstanceDirectory jellyfin_instances_;
  JellyfinSteering jellyfin_;
  EventTeller teller_;
  JournalSink journal_sink_;
  StderrSink stderr_sink_;
  EventSink* sink_ = nullptr;  // the journal or stderr, written by queued_sink_'s thread
  // The loop (and the worker) only queue: a journald that does not read cannot hold the loop.
  QueuedSink queued_sink_;
  DesktopNotices notices_;  // the one desktop notification of the `notify` actions
  ActionEnv env_;
  ActionRunner actions_;         // the one path of every change: worker, dry run, result events
  HelperLink helper_;            // guardian-helper's events, when it runs
  uint64_t helper_watched_ = 0;  // the helper connection whose fd is in the epoll set
  std::optional<Policy> policy_;
  PolicyLocation location_;  // where policy_ (or the last reload tried) came from
  LadderState ladder_;
  std::map<std::pair<size_t, size_t>, std::shared_ptr<Action>> active_;  // (level, index)
  // Applies that failed for a reason that may pass (Jellyfin did not answer), tried again for as
  // long as their level holds (daemon/apply_retry.h says when).
  struct ApplyRetry {
    std::pair<size_t, size_t> key;
    std::shared_ptr<Action> action;
    std::string label;
    std::string level;
    MonoTime due;
  };
  std::vector<ApplyRetry> retries_;
  std::map<const Action*, unsigned> retry_counts_;
  std::vector<std::unique_ptr<DaemonComponent>> components_;
  // Each component's fds as watched at start (asking fds() on every wake-up made a vector).
  std::vector<std::pair<int, DaemonComponent*>> component_fds_;
  std::vector<PsiTrigger> triggers_;
  std::vector<WatchedCgroup> dropin_rules_;         // what the unit drop-ins say, even when live rules win
  std::set<std::string, std::less<>> user_slices_;  // user_manager_slices() at the last rule refresh
  // Per armed trigger (same index as triggers_): the cgroup path it watches ("/" = system), and
  // whether it fired since the last tick.
  std::vector<std::string> trigger_paths_;
  std::vector<char> trigger_fired_;
  // The memory.pressure files (host paths before the host root) and the spec triggers_ were last
  // armed for: a refresh that wants the same keeps them (arm_triggers).
  std::vector<std::string> armed_trigger_files_;
  std::optional<PsiTriggerSpec> armed_trigger_spec_;
  // The same for the cgroups guardian-helper is asked to watch (helper_.set_pressure_watches):
  // every watched cgroup in the user manager, including user@UID.service itself, whose pressure
  // file root owns and guardian cannot arm; a firing relayed by the helper lands here.
  std::vector<std::string> helper_watch_paths_;
  std::vector<char> helper_watch_fired_;
  std::vector<std::string> fired_spare_;  // snapshot_.triggers_fired's strings a tick did not need
  // Kept between ticks so a steady tick reuses their storage and allocates nothing.
  Snapshot snapshot_;
  Decision decision_;
  DecideScratch decide_scratch_;
  TickView tick_view_;
  bool actions_changed_ = true;             // active_ changed since tick_view_.active_actions was filled
  char status_[256] = {};                   // the last STATUS= sent to systemd
  std::set<std::string> trigger_problems_;  // paths whose trigger could not be armed (told once)
  std::string explanation_ = "starting";
  UniqueFd epoll_;
  UniqueFd timer_;
  UniqueFd signals_;
  bool reload_requested_ = false;
  bool tick_requested_ = false;
  bool rules_stale_ = true;
  bool live_rules_ = false;  // the model runs on oomd's live list; drop-ins only for warnings
  bool stopping_ = false;
  uint64_t ticks_ = 0;
  uint64_t watchdog_usec_ = 0;
  SystemdNotifier notifier_;  // $NOTIFY_SOCKET, connected once: READY=1 and STOPPING=1 from the loop
  // WATCHDOG=1 and STATUS= from a thread of their own (each datagram is a charge: issue 10), made
  // after READY=1 when systemd gave a notify socket.
  std::unique_ptr<WatchdogPinger> pinger_;
  // --lock-memory=loop: the shared libraries' pages in use, locked from a thread of its own after
  // warm-up; the loop reads its result when its scan count moved.
  std::unique_ptr<SharedPagesKeeper> pages_keeper_;
  uint64_t pages_scans_seen_ = 0;
  bool told_shared_left_out_ = false;
  void take_shared_pages_scan();
  MonoTime last_status_line_{};
};

Result<Policy> Daemon::read_policy() {
  // Looked up again at every reload: a policy.toml written after the start (guardian init-policy)
  // is picked up by `systemctl --user reload guardian`, and one removed falls back.
  location_ = options_.policy_path
                  ? PolicyLocation{PolicyOrigin::Option, *options_.policy_path, *options_.policy_path}
                  : locate_policy(host_, options_.config_dirs);
  std::optional<std::string> path;
  if (location_.origin != PolicyOrigin::Embedded) path = location_.open_path;
  PolicyLoadResult loaded = load_policy_or_default(path, &builtin_actions());
  if (!loaded.policy) {
    std::string text;
    for (const auto& diagnostic : loaded.diagnostics)
      text += (text.empty() ? "" : "\n") + diagnostic.to_string();
    return make_error(text.empty() ? "policy did not load" : text);
  }
  return std::move(*loaded.policy);
}

// Why this file: said in the policy-loaded event, so a user who edits one file and sees another in
// force learns where guardian looked.
std::string Daemon::where_policy_came_from() const {
  switch (location_.origin) {
    case PolicyOrigin::Option: return " (--policy)";
    case PolicyOrigin::User: return " (the user's, $XDG_CONFIG_HOME)";
    case PolicyOrigin::System: return " (the system's, $XDG_CONFIG_DIRS)";
    case PolicyOrigin::Embedded: break;
  }
  std::string looked;
  for (const auto& [origin, path] : policy_candidates(options_.config_dirs))
    looked += (looked.empty() ? "" : ", ") + path;
  return looked.empty() ? "" : " (none of " + looked + " exists; `guardian init-policy` writes one)";
}

void Daemon::apply_policy(Policy policy) {
  policy_ = std::move(policy);
  budget_model_.set_window(policy_->approach.window);
  relief_model_.set_targets(level_relief_targets(builtin_actions(), *policy_));
  Event event{EventType::PolicyLoaded,
              Priority::Info,
              "policy \"" + policy_->name + "\" in force (" + std::to_string(policy_->levels.size()) +
                  " levels) from " + policy_->source + where_policy_came_from(),
              {}};
  event.with("POLICY", policy_->source).with("POLICY_ORIGIN", policy_origin_name(location_.origin));
  teller_.emit(event);
  for (auto& component : components_) component->on_policy(*policy_);
  if (timer_) {
    if (auto armed = set_timer(); !armed.ok()) {
      teller_.emit(
          Event{EventType::SenseProblem, Priority::Warning, "sampling timer: " + armed.error().message, {}});
    }
  }
  rules_stale_ = true;           // triggers follow the policy's trigger spec
  armed_trigger_files_.clear();  // ... and a reload tries every trigger again
}

void Daemon::reload() {
  reload_requested_ = false;
  auto policy = read_policy();
  if (!policy.ok()) {
    Event event{EventType::PolicyRejected,
                Priority::Error,
                "policy reload refused, the previous policy stays in force:\n" + policy.error().message,
                {}};
    event
        .with("POLICY", location_.origin == PolicyOrigin::Embedded ? std::string(kEmbeddedPolicyName)
                                                                   : location_.open_path)
        .with("POLICY_ORIGIN", policy_origin_name(location_.origin));
    teller_.emit(event);
    return;
  }
  // What the new policy does not change stays in force (decide/reload.h): the levels it still has
  // in place and their unchanged actions. The rest is reverted under the old policy, the new
  // actions of the levels that stay are applied under the new one, and the next tick climbs on.
  const ReloadPlan plan = plan_reload(*policy_, ladder_, policy.value());
  Decision down;
  down.transitions = plan.transitions;
  down.commands = plan.reverts;
  execute(down);
  ladder_ = plan.next;
  apply_policy(std::move(policy.value()));
  Decision up;
  up.commands = plan.applies;
  execute(up);
  Event event{EventType::PolicyLoaded,
              Priority::Info,
              "policy reload: " + std::to_string(plan.kept) + " action(s) left in force, " +
                  std::to_string(plan.reverts.size()) + " reverted, " + std::to_string(plan.applies.size()) +
                  " applied",
              {}};
  event.with("POLICY", policy_->source);
  teller_.emit(event);
}

void Daemon::submit_apply(std::pair<size_t, size_t> key, std::shared_ptr<Action> action, std::string label,
                          std::string level) {
  actions_.submit(
      {.action = std::move(action),
       .label = std::move(label),
       .level = std::move(level),
       .done =
           [this](const ActionJobResult& done) {
             if (done.result.outcome != ActionResult::Outcome::Failed &&
                 done.result.outcome != ActionResult::Outcome::TimedOut)
               retry_counts_.erase(done.job.action.get());
           },
       .on_failure = [this, key](const ActionJobResult& done) { return schedule_retry(key, done); }});
}

std::string Daemon::schedule_retry(std::pair<size_t, size_t> key, const ActionJobResult& done) {
  if (!done.result.retry) return {};
  // Still in force (its level holds)? Then try again.
  auto active = active_.find(key);
  if (active == active_.end() || active->second != done.job.action) return {};
  unsigned& failed = retry_counts_[done.job.action.get()];
  ++failed;
  retries_.push_back({key, done.job.action, done.job.label, done.job.level,
                      std::chrono::steady_clock::now() + apply_retry_wait(failed)});
  return apply_retry_note(failed);
}

void Daemon::submit_due_retries() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = retries_.begin(); it != retries_.end();) {
    if (it->due > now) {
      ++it;
      continue;
    }
    auto active = active_.find(it->key);
    if (active != active_.end() && active->second == it->action)
      submit_apply(it->key, it->action, it->label, it->level);
    it = retries_.erase(it);
  }
}

void Daemon::refresh_rules(const Snapshot& snapshot) {
  rules_stale_ = false;
  const std::set<std::string> slices = user_manager_slices(sampler_.layout(), snapshot);
  user_slices_ = std::set<std::string, std::less<>>(slices.begin(), slices.end());
  OomdRuleSet rules =
      oomd_rules_from_files(read_oomd_config_files(host_, sampler_.layout(), slices), snapshot);
  for (const auto& warning : rules.warnings) {
    teller_.emit(Event{EventType::SenseProblem, Priority::Warning, "oomd configuration: " + warning, {}});
  }
  dropin_rules_ = rules.watched;
  if (!live_rules_ && rules.watched != model_.rules()) {
    std::string list;
    for (const auto& watched : rules.watched) {
      list += (list.empty() ? "" : ", ") + short_cgroup(watched.path, sampler_.layout().user_manager_path) +
              " " + fmt("%.0f%%", watched.limit_percent) + "/" +
              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(watched.duration).count()) +
              "s";
    }
    Event event{EventType::PolicyLoaded,
                Priority::Info,
                rules.watched.empty() ? "systemd-oomd watches no cgroup guardian can see"
                                      : "systemd-oomd watches " + list,
                {}};
    event.with("OOMD_WATCHED", std::to_string(rules.watched.size()));
    teller_.emit(event);
    model_.set_rules(std::move(rules.watched));
  }
  arm_triggers();
}

void Daemon::arm_triggers() {
  std::vector<std::string> helper_paths;
  if (policy_ && policy_->sampling.trigger && !sampler_.layout().system_only()) {
    const std::string& manager = sampler_.layout().user_manager_path;
    for (const auto& rule : model_.rules())
      if (!manager.empty() && (rule.path == manager || rule.path.starts_with(manager + "/")))
        helper_paths.push_back(rule.path);
  }
  if (helper_paths != helper_watch_paths_) {
    helper_watch_paths_ = std::move(helper_paths);
    helper_watch_fired_.assign(helper_watch_paths_.size(), 0);
  }
  helper_.set_pressure_watches(helper_watch_paths_, policy_ && policy_->sampling.trigger
                                                        ? *policy_->sampling.trigger
                                                        : PsiTriggerSpec{});
  std::vector<std::string> paths;
  if (!policy_ || !policy_->sampling.trigger) {
    // no triggers: paths stays empty
  } else if (sampler_.layout().system_only()) {
    paths.emplace_back("/proc/pressure/memory");
  } else {
    for (const auto& rule : model_.rules()) {
      // user@UID.service's own memory.pressure is root-owned, and so is everything outside it
      // (system.slice): triggers go on the delegated cgroups inside it, which the user owns.
      if (!rule.path.starts_with(sampler_.layout().user_manager_path + "/")) continue;
      paths.push_back(sampler_.layout().cgroup2_mount + rule.path + "/memory.pressure");
    }
  }
  // The same files with the same trigger as last time: keep what was armed. The rules are
  // refreshed whenever a unit comes or goes, and re-arming opened every memory.pressure file and
  // added it to epoll again: kernel memory charged to the user's budget from the loop thread,
  // which at a full memory.high made the kernel hold the loop in its throttle for 9 s
  // (sqj-s24-fg3, charge trace: 3 openat and 3 epoll_ctl charges, then 9.15 s of memory.high
  // penalty). A file that could not be armed (a fixture tree, a root-owned file) is tried again
  // when the rules or the policy change, or its cgroup is removed, not on every refresh: the
  // interval's tick samples it all the same.
  const std::optional<PsiTriggerSpec> spec =
      policy_ && policy_->sampling.trigger ? policy_->sampling.trigger : std::nullopt;
  if (paths == armed_trigger_files_ && spec == armed_trigger_spec_) return;
  for (const auto& trigger : triggers_) epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, trigger.fd(), nullptr);
  triggers_.clear();
  trigger_paths_.clear();
  trigger_fired_.clear();
  armed_trigger_files_ = paths;
  armed_trigger_spec_ = spec;
  if (!spec) return;
  for (const auto& path : paths) {
    auto trigger = PsiTrigger::arm(host_.path(path), *spec);
    if (!trigger.ok()) {
      // Said once per path: the rules refresh every 30 ticks and would repeat it.
      if (trigger_problems_.insert(path).second) {
        Event event{EventType::SenseProblem,
                    Priority::Warning,
                    "PSI trigger not armed: " + trigger.error().message,
                    {}};
        event.with("WHERE", path);
        teller_.emit(event);
      }
      continue;
    }
    trigger_problems_.erase(path);
    epoll_event ev{};
    ev.events = EPOLLPRI;
    ev.data.fd = trigger->fd();
    epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, trigger->fd(), &ev);
    // ".../app.slice/memory.pressure" -> "/…/app.slice"; "/proc/pressure/memory" -> "/".
    const auto& mount = sampler_.layout().cgroup2_mount;
    std::string cgroup = "/";
    if (path.starts_with(mount + "/"))
      cgroup = path.substr(mount.size(), path.size() - mount.size() - std::strlen("/memory.pressure"));
    trigger_paths_.push_back(std::move(cgroup));
    trigger_fired_.push_back(0);
    triggers_.push_back(std::move(trigger.value()));
  }
}

Result<void> Daemon::set_timer() {
  const auto interval = policy_ ? policy_->sampling.interval : std::chrono::microseconds(1'000'000);
  itimerspec spec{};
  spec.it_interval.tv_sec = static_cast<time_t>(interval.count() / 1'000'000);
  spec.it_interval.tv_nsec = static_cast<long>((interval.count() % 1'000'000) * 1000);
  spec.it_value = spec.it_interval;
  if (timerfd_settime(timer_.get(), 0, &spec, nullptr) != 0) return make_error(std::strerror(errno));
  lateness_.arm(std::chrono::steady_clock::now(), interval);
  return {};
}

std::vector<std::string> Daemon::active_action_labels() const {
  std::vector<std::string> labels;
  for (const auto& [key, action] : active_) {
    labels.push_back(level_name(*policy_, key.first) + "/" + action->type());
  }
  return labels;
}

void Daemon::execute(const Decision& decision) {
  for (const auto& transition : decision.transitions) {
    Event event{EventType::LevelChanged,
                transition.to > transition.from ? Priority::Warning : Priority::Notice,
                "level " + level_name(*policy_, transition.from) + " -> " +
                    level_name(*policy_, transition.to) + ": " + transition.reason,
                {}};
    event.with("LEVEL", level_name(*policy_, transition.to))
        .with("PREVIOUS_LEVEL", level_name(*policy_, transition.from))
        .with("REASON", transition.reason);
    // oomd's figures at this moment, for the watched cgroup nearest a kill: a review of the
    // journal (and the VM test bed's "lead over oomd's deadline") reads them from here.
    if (const OomdCgroupState* nearest = nearest_to_kill(model_.states())) {
      event.with("CGROUP", nearest->rule.path)
          .with("FULL_AVG10", fmt("%.2f", nearest->full_avg10))
          .with("OOMD_LIMIT_PERCENT", fmt("%.2f", nearest->rule.limit_percent))
          .with("SECONDS_OVER", fmt("%.1f", nearest->seconds_over));
      if (nearest->seconds_until_kill)
        event.with("SECONDS_UNTIL_KILL", fmt("%.1f", *nearest->seconds_until_kill));
    }
    teller_.emit(event);
  }
  if (decision.rebound_hold_began) {
    // Once per stretch: the explanation says it every tick, in status.
    const auto& held = *decision.rebound_hold_began;
    Event event{EventType::LevelHeld, Priority::Notice, decision.explanation, {}};
    event.with("LEVEL", level_name(*policy_, decision.next.level))
        .with("HELD_BACK_BYTES", std::to_string(held.held_back_bytes))
        .with("WITHOUT_PERCENT", fmt("%.1f", held.without_percent))
        .with("MAX_REBOUND_HOLD",
              fmt("%.0fs", std::chrono::duration<double>(policy_->approach.max_rebound_hold).count()));
    teller_.emit(event);
  }
  for (const auto& command : decision.commands) {
    const auto key = std::make_pair(command.level, command.action_index);
    const ActionSpec& spec = policy_->levels[command.level - 1].actions[command.action_index];
    const std::string label = level_name(*policy_, command.level) + "/" + spec.type;
    if (command.kind == ActionCommand::Kind::Apply) {
      const ActionRegistry::Entry* entry = builtin_actions().find(spec.type);
      ActionEnv env = env_;  // the same environment, and where in the ladder this action sits
      env.level = level_name(*policy_, command.level);
      env.level_number = command.level;
      env.action_index = command.action_index;
      auto action = entry ? entry->create(spec, env)
                          : Result<std::unique_ptr<Action>>(make_error("unknown action type"));
      if (!action.ok()) {
        Event event{EventType::ActionFailed, Priority::Error, label + ": " + action.error().message, {}};
        event.with("ACTION", spec.type)
            .with("LEVEL", level_name(*policy_, command.level))
            .with("RESULT", "failed");
        teller_.emit(event);
        continue;
      }
      std::shared_ptr<Action> shared = std::move(action.value());
      // What the notification names: the apps of this tick's snapshot, and what is in force,
      // this level's earlier actions included. Only at a step, never in the steady tick.
      if (spec.type == "notify") notices_.set_picture(desktop_picture());
      active_[key] = shared;
      submit_apply(key, shared, label, level_name(*policy_, command.level));
      actions_changed_ = true;
    } else {
      auto it = active_.find(key);
      if (it == active_.end()) continue;
      std::shared_ptr<Action> shared = it->second;
      active_.erase(it);
      std::erase_if(retries_, [&](const ApplyRetry& retry) { return retry.action == shared; });
      retry_counts_.erase(shared.get());
      actions_changed_ = true;
      actions_.submit({.kind = ActionJob::Kind::Revert,
                       .action = shared,
                       .label = label,
                       .level = level_name(*policy_, command.level)});
    }
  }
}

void Daemon::unwind_all() {
  if (!policy_) return;
  Decision decision = unwind(*policy_, ladder_);
  execute(decision);
  ladder_ = decision.next;
  active_.clear();
  retries_.clear();
  retry_counts_.clear();
  actions_changed_ = true;
}

DesktopPicture Daemon::desktop_picture() const {
  constexpr size_t kAppsNamed = 3;
  DesktopPicture picture;
  picture.apps = largest_desktop_apps(snapshot_, sampler_.layout().user_manager_path, kAppsNamed);
  for (const auto& [key, action] : active_)
    picture.done.push_back(done_for_user(policy_->levels[key.first - 1].actions[key.second]));
  return picture;
}

HelperHandlers Daemon::helper_handlers() {
  HelperHandlers handlers;
  // The systemd component merges the kill with its polled sightings, tells it and ticks.
  handlers.kill = [this](const KillSeen& kill) {
    for (auto& component : components_) component->on_kill_seen(kill);
  };
  handlers.exec = [this](const helper_wire::ProcessExec& exec) {
    for (auto& component : components_) component->on_process_started(exec);
  };
  handlers.prekill = [this](const helper_wire::PrekillNotice& notice) { on_prekill(notice); };
  handlers.tell = [this](const Event& event) { teller_.emit(event); };
  // As the loop does for its own trigger's EPOLLPRI: mark the cgroup, tick now.
  handlers.pressure = [this](size_t index) {
    if (index >= helper_watch_fired_.size()) return;
    helper_watch_fired_[index] = 1;
    tick_requested_ = true;
  };
  return handlers;
}

// systemd-oomd (>= 260, PrekillHookTimeoutSec=) holds its kill until the hook answers. Every
// change guardian made is already in the state file before it was made, so a restart after the
// kill restores it: guardian tells the notice, samples now, and answers at once.
void Daemon::on_prekill(const helper_wire::PrekillNotice& notice) {
  Event event{EventType::SenseProblem,
              Priority::Warning,
              "systemd-oomd is about to kill " +
                  short_cgroup(notice.cgroup, sampler_.layout().user_manager_path) +
                  "; guardian's changes are saved, telling it to go ahead",
              {}};
  event.with("CGROUP", notice.cgroup)
      .with("HELPER", "prekill")
      .with("LEVEL", level_name(*policy_, ladder_.level));
  teller_.emit(event);
  helper_.prekill_done(notice.id);
  tick_requested_ = true;
}

void Daemon::watch_helper() {
  if (helper_.fd() < 0 || helper_.connection() == helper_watched_) return;
  // A closed connection left the epoll set with its fd; a new one (even with the same number) joins.
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = helper_.fd();
  epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, helper_.fd(), &ev);
  helper_watched_ = helper_.connection();
}

void Daemon::print_status_line(const Snapshot& snapshot) {
  if (!options_.status_lines) return;
  if (snapshot.mono - last_status_line_ < std::chrono::seconds(5)) return;
  last_status_line_ = snapshot.mono;
  std::string line = "guardian: level=" + level_name(*policy_, ladder_.level);
  if (snapshot.system_pressure) {
    line += " system memory pressure some avg10=" + fmt("%.2f", snapshot.system_pressure->some.avg10) +
            "% full avg10=" + fmt("%.2f", snapshot.system_pressure->full.avg10) + "%";
  }
  if (snapshot.meminfo.total_bytes) {
    line += " available=" + format_bytes(snapshot.meminfo.available_bytes) + "/" +
            format_bytes(snapshot.meminfo.total_bytes);
  }
  for (const auto& state : model_.states()) {
    if (!state.present) continue;
    line += " | " + short_cgroup(state.rule.path, sampler_.layout().user_manager_path) + " full " +
            fmt("%.2f", state.full_avg10) + "% of " + fmt("%.0f", state.rule.limit_percent) + "%";
    if (state.seconds_until_kill) line += " kill in " + fmt("%.0f", *state.seconds_until_kill) + "s";
  }
  std::fprintf(stderr, "%s\n", line.c_str());
}

void Daemon::notify_systemd(bool ready) {
  // Formatted into fixed buffers: this runs every tick. Only READY=1 goes out from the loop; the
  // status and the watchdog ping go from pinger_'s thread (a datagram is an skb charged to the
  // task that sends it, and memory.high's penalty falls on that task: not the loop).
  double worst = 0;
  for (const auto& state : model_.states()) worst = std::max(worst, state.limit_fraction);
  const std::string& level = tick_view_.level_name;
  char status[sizeof status_];
  if (model_.states().empty())
    std::snprintf(status, sizeof status, "STATUS=level %s", level.c_str());
  else
    std::snprintf(status, sizeof status, "STATUS=level %s, worst watched cgroup at %.0f%% of oomd's limit",
                  level.c_str(), worst * 100);
  if (ready) {
    char message[sizeof status + 16];
    std::snprintf(message, sizeof message, "READY=1\n%s", status);
    notifier_.notify(message);
    const char* socket = std::getenv("NOTIFY_SOCKET");
    if (socket != nullptr && *socket != '\0')
      pinger_ =
          std::make_unique<WatchdogPinger>(std::chrono::microseconds(watchdog_usec_), SystemdNotifier());
  } else if (pinger_ && std::strcmp(status, status_) != 0) {
    pinger_->publish_status(status);
  }
  std::memcpy(status_, status, sizeof status_);
  if (pinger_) pinger_->beat();  // the loop is alive: the pinger may ping once more
  if (pages_keeper_) {
    // Quiet: no level above normal and this tick on time; the keeper rescans only then.
    pages_keeper_->beat(ladder_.level == 0 && lateness_.last_seconds() < 0.5);
    if (pages_keeper_->scans() != pages_scans_seen_) take_shared_pages_scan();
  }
}

void Daemon::take_shared_pages_scan() {
  // Only when a scan finished (after warm-up, then at most once a minute while quiet): the
  // strings made here are not a steady tick's.
  const SharedPagesKeeper::Result result = pages_keeper_->last();
  pages_scans_seen_ = result.scans;
  // Told when the limit leaves out pages of the libraries a tick runs in; other libraries' pages
  // and every library's headers do not fit beside the rest in 8 MiB, and need not (the status and
  // `guardian doctor` still name them).
  const bool newly_left_out = !told_shared_left_out_ && result.scan.left_out_tick_pages;
  told_shared_left_out_ = told_shared_left_out_ || newly_left_out;
  const bool newly_failed = memory_lock_.shared_problem.empty() && !result.scan.problem.empty();
  memory_lock_.shared_scanned = true;
  memory_lock_.shared_locked_bytes = result.scan.locked_bytes;
  memory_lock_.shared_left_out = result.scan.left_out;
  memory_lock_.shared_left_out_bytes = result.scan.left_out_bytes;
  memory_lock_.shared_problem = result.scan.problem;
  memory_lock_text_ = memory_lock_.describe();
  if (!newly_left_out && !newly_failed) return;
  Event event{EventType::SenseProblem,
              Priority::Warning,
              "memory partly locked: " + memory_lock_text_ +
                  "; under memory pressure guardian's own faults may stall it (LimitMEMLOCK= in the unit)",
              {}};
  event.with("WHERE", "RLIMIT_MEMLOCK")
      .with("MEMORY_LOCK", std::string(memory_lock_mode_name(memory_lock_.mode)))
      .with("MEMORY_LOCKED_BYTES",
            std::to_string((memory_lock_.locked ? memory_lock_.needed_bytes : 0) + result.scan.locked_bytes))
      .with("MEMORY_LOCK_LIMIT_BYTES", memory_lock_.limit_bytes == UINT64_MAX
                                           ? std::string("infinity")
                                           : std::to_string(memory_lock_.limit_bytes))
      .with("SHARED_PAGES_SCANNED", std::to_string(result.scan.scanned_pages))
      .with("SHARED_PAGES_SCAN_USEC", std::to_string(result.took.count()));
  teller_.emit(event);
}

// Whether the slices directly in the user manager are the ones in `known`, without building a set
// (this runs every tick). Slice names are unique within a manager (their name is their path).
bool same_user_slices(const HostLayout& layout, const Snapshot& snapshot,
                      const std::set<std::string, std::less<>>& known) {
  if (layout.user_manager_path.empty()) return known.empty();
  const std::string_view manager = layout.user_manager_path;
  size_t seen = 0;
  for (const auto& cgroup : snapshot.cgroups) {
    const std::string_view path = cgroup.path;
    if (path.size() <= manager.size() || !path.starts_with(manager) || path[manager.size()] != '/') continue;
    if (!cgroup.unit.ends_with(".slice")) continue;
    if (!known.contains(std::string_view(cgroup.unit))) return false;
    ++seen;
  }
  return seen == known.size();
}

void Daemon::tick() {
  tick_requested_ = false;
  Snapshot& snapshot = snapshot_;
  sampler_.sample_into(snapshot);
  {
    // The cgroups whose trigger fired since the last tick, guardian's own or relayed by
    // guardian-helper, each once. The strings' storage is reused: a tick with fewer firings than
    // the last puts the strings it does not need aside (fired_spare_) for one with more, rather
    // than freeing them and allocating anew at the next firing.
    // Room for every path at once, made when the paths change (no-ops on a steady tick), so
    // neither list grows under a pattern of firings the ticks before did not have; and each
    // string made with room for the longest path, since which string holds which path changes
    // with the pattern of firings (a tick that fired only app.slice, the next only
    // background.slice).
    const size_t most = trigger_paths_.size() + helper_watch_paths_.size();
    snapshot.triggers_fired.reserve(most);
    fired_spare_.reserve(most);
    size_t longest = 0;
    for (const auto& path : trigger_paths_) longest = std::max(longest, path.size());
    for (const auto& path : helper_watch_paths_) longest = std::max(longest, path.size());
    size_t fired = 0;
    auto add_fired = [this, &snapshot, &fired, longest](const std::string& path) {
      for (size_t j = 0; j < fired; ++j)
        if (snapshot.triggers_fired[j] == path) return;
      if (fired == snapshot.triggers_fired.size()) {
        if (fired_spare_.empty()) {
          snapshot.triggers_fired.emplace_back().reserve(longest);
        } else {
          snapshot.triggers_fired.push_back(std::move(fired_spare_.back()));
          fired_spare_.pop_back();
        }
      }
      snapshot.triggers_fired[fired].assign(path);
      ++fired;
    };
    for (size_t i = 0; i < trigger_fired_.size(); ++i) {
      if (!trigger_fired_[i]) continue;
      trigger_fired_[i] = 0;
      add_fired(trigger_paths_[i]);
    }
    for (size_t i = 0; i < helper_watch_fired_.size(); ++i) {
      if (!helper_watch_fired_[i]) continue;
      helper_watch_fired_[i] = 0;
      add_fired(helper_watch_paths_[i]);
    }
    while (snapshot.triggers_fired.size() > fired) {
      fired_spare_.push_back(std::move(snapshot.triggers_fired.back()));
      snapshot.triggers_fired.pop_back();
    }
  }
  for (const auto& problem : sampler_.take_problems()) {
    Event event{EventType::SenseProblem, Priority::Warning, problem.where + ": " + problem.message, {}};
    event.with("WHERE", problem.where);
    teller_.emit(event);
  }
  // A slice that appeared since the last reading (container.slice started after guardian, a
  // `systemd-run --slice=`) has drop-ins of its own: read them now. Otherwise the drop-ins are
  // read again when the cgroup tree changed (a walk), a unit came or went (the systemd
  // component's request_rescan) or on reload: never on a steady tick, which opens no file. oomd
  // itself sees an edited drop-in only after a daemon-reload, which the systemd component hears.
  if (rules_stale_ || sampler_.rescanned_last_tick() ||
      !same_user_slices(sampler_.layout(), snapshot, user_slices_)) {
    refresh_rules(snapshot);
  }
  model_.observe(snapshot);
  lower_guard_.update(sampler_.layout().user_manager_path, model_.states());
  budget_model_.observe(snapshot, sampler_.layout().user_manager_path);
  relief_model_.observe(snapshot);

  ModelView view{&snapshot, &model_.states(), sampler_.layout().user_manager_path, &budget_model_.budget(),
                 relief_model_.held_back_bytes()};
  Decision& decision = decision_;
  decide(*policy_, ladder_, view, snapshot.mono, decision, decide_scratch_);
  execute(decision);
  submit_due_retries();
  ladder_ = decision.next;
  // A level entered this tick measures its actions' relief from this snapshot, taken before they ran.
  relief_model_.note_levels(ladder_.entered_at, snapshot, sampler_.layout().user_manager_path);
  explanation_.assign(decision.explanation);

  TickView& tick_view = tick_view_;
  tick_view.snapshot = &snapshot;
  tick_view.layout = &sampler_.layout();
  tick_view.oomd = &model_.states();
  tick_view.oomd_dropin_rules = &dropin_rules_;
  tick_view.policy = &*policy_;
  tick_view.ladder = &ladder_;
  if (ladder_.level == 0)
    tick_view.level_name.assign("normal");
  else if (ladder_.level <= policy_->levels.size())
    tick_view.level_name.assign(policy_->levels[ladder_.level - 1].name);
  else
    tick_view.level_name.assign(level_name(*policy_, ladder_.level));
  tick_view.explanation.assign(explanation_);
  if (actions_changed_) {
    tick_view.active_actions = active_action_labels();
    actions_changed_ = false;
  }
  tick_view.dry_run = options_.dry_run;
  tick_view.lateness = &lateness_;
  tick_view.memory_lock = &memory_lock_;
  tick_view.user_budget = &budget_model_.budget();
  tick_view.memory_lock_description = memory_lock_text_;
  tick_view.wake_source = helper_.wake_source();
  for (auto& component : components_) component->on_tick(tick_view);
  helper_.maintain(snapshot.mono);  // connect (or again, after a helper restart); send what waits
  watch_helper();
  print_status_line(snapshot);
  ++ticks_;
  if (options_.after_tick) options_.after_tick(ticks_);
}

void Daemon::read_timer(int fd) {
  uint64_t expirations = 0;
  if (read(fd, &expirations, sizeof expirations) != static_cast<ssize_t>(sizeof expirations)) return;
  const double late = lateness_.on_expiry(std::chrono::steady_clock::now(), expirations);
  constexpr double kStalledSeconds = 2.0;
  if (late <= kStalledSeconds) return;
  // A decision-sized event: the loop was blind this long, which is what this whole design avoids.
  Event event{EventType::Stalled, Priority::Warning, fmt("guardian was stalled for %.1f s", late), {}};
  event.with("STALLED_SECONDS", fmt("%.3f", late))
      .with("MISSED_TICKS", std::to_string(expirations > 0 ? expirations - 1 : 0))
      .with("MEMORY_LOCK", memory_lock_.describe());
  teller_.emit(event);
}

void Daemon::lock_loop_memory() {
  if (options_.lock_memory == MemoryLockMode::LoopOnly) {
    prefault_stack(64 * 1024);
    int here = 0;
    memory_lock_ = lock_memory(MemoryLockMode::LoopOnly, &here);
    // The shared libraries' pages once the loop is warm, by the page, in what the limit leaves.
    pages_keeper_ = std::make_unique<SharedPagesKeeper>(own_executable(), memory_lock_.limit_bytes,
                                                        memory_lock_.locked ? memory_lock_.needed_bytes : 0);
  } else if (options_.lock_memory == MemoryLockMode::None) {
    memory_lock_ = MemoryLockStatus{};
  }
  memory_lock_text_ = memory_lock_.describe();
  // all / all-onfault were locked before any thread started (run_daemon).
  if (options_.lock_memory == MemoryLockMode::None) return;
  if (memory_lock_.locked && memory_lock_.left_out.empty()) return;
  // A lower RLIMIT_MEMLOCK gives a smaller lock (the most important parts first), none only when
  // not even the first part fits: either way the user learns once what stays unprotected.
  const bool partly = memory_lock_.locked;
  Event event{EventType::SenseProblem,
              Priority::Warning,
              std::string(partly ? "memory partly locked: " : "memory not locked, running unlocked: ") +
                  memory_lock_.describe() +
                  "; under memory pressure guardian's own faults may stall it (LimitMEMLOCK= in the unit)",
              {}};
  event.with("WHERE", "RLIMIT_MEMLOCK")
      .with("MEMORY_LOCK", std::string(memory_lock_mode_name(memory_lock_.mode)))
      .with("MEMORY_LOCKED_BYTES", std::to_string(memory_lock_.locked ? memory_lock_.needed_bytes : 0))
      .with("MEMORY_LOCK_LIMIT_BYTES", memory_lock_.limit_bytes == UINT64_MAX
                                           ? std::string("infinity")
                                           : std::to_string(memory_lock_.limit_bytes));
  teller_.emit(event);
}

int Daemon::run() {
  auto policy = read_policy();
  if (!policy.ok()) {
    std::fprintf(stderr, "guardian: the policy has errors, not starting:\n%s\n",
                 policy.error().message.c_str());
    return 1;
  }
  epoll_ = UniqueFd(epoll_create1(EPOLL_CLOEXEC));
  timer_ = UniqueFd(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&mask, sig);
  signals_ = UniqueFd(signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!epoll_ || !timer_ || !signals_) {
    std::fprintf(stderr, "guardian: cannot set up the event loop: %s\n", std::strerror(errno));
    return 2;
  }
  auto watch = [this](int fd, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
  };
  watch(timer_.get(), EPOLLIN);
  watch(signals_.get(), EPOLLIN);
  watch(actions_.fd(), EPOLLIN);
  if (helper_.watch_fd() >= 0) watch(helper_.watch_fd(), EPOLLIN);  // guardian-helper's socket appearing
  if (sd_watchdog_enabled(0, &watchdog_usec_) <= 0) watchdog_usec_ = 0;

  const HostLayout& layout = sampler_.layout();
  {
    Event started{
        EventType::Started,
        Priority::Info,
        std::string("guardian ") + GUARDIAN_VERSION + " started" + (options_.dry_run ? " (dry run)" : "") +
            (layout.system_only() ? ", system-only mode" : ", watching " + layout.user_manager_path),
        {}};
    started.with("MODE", layout.system_only() ? "system-only" : "full")
        .with("DRY_RUN", options_.dry_run ? "1" : "0");
    teller_.emit(started);
  }
  if (layout.system_only()) {
    Event event{EventType::SystemOnlyMode, Priority::Notice, layout.system_only_reason, {}};
    event.with("MODE", "system-only");
    teller_.emit(event);
  }
  // Before anything can save an original: the file as it is, or kept aside when it is not one.
  actions_.load_saved();
  components_ = make_components(options_, actions_);
  for (auto& component : components_) {
    teller_.add_sink(component.get());
    component->start(*this);
    for (int fd : component->fds()) {
      watch(fd, EPOLLIN);
      component_fds_.emplace_back(fd, component.get());
    }
  }
  apply_policy(std::move(policy.value()));
  // What an earlier guardian left goes back in the background, first in the worker's queue, and
  // only where the policy manages the target (the Jellyfin kinds through the policy's instance of
  // that name): after the components started (the systemd restorers use the user-manager
  // connection the systemd component opens) and the policy is in force. READY and the first tick
  // do not wait for it.
  actions_.restore_saved(builtin_actions(), *policy_);
  if (auto armed = set_timer(); !armed.ok()) {
    std::fprintf(stderr, "guardian: cannot arm the sampling timer: %s\n", armed.error().message.c_str());
    return 2;
  }

  tick();
  // After the first tick: the heap and the loop's stack have their steady-state size now.
  lock_loop_memory();
  notify_systemd(true);

  epoll_event events[16];
  while (!stopping_) {
    if (options_.max_ticks && ticks_ >= *options_.max_ticks) break;
    int n = epoll_wait(epoll_.get(), events, 16, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "guardian: epoll_wait: %s\n", std::strerror(errno));
      return 2;
    }
    bool due = tick_requested_;
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == timer_.get()) {
        read_timer(fd);
        due = true;
      } else if (fd == signals_.get()) {
        signalfd_siginfo info{};
        while (read(fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
          if (info.ssi_signo == SIGHUP)
            reload_requested_ = true;
          else
            stopping_ = true;
        }
      } else if (fd == actions_.fd()) {
        actions_.collect();
      } else if (fd == helper_.fd()) {
        helper_.on_readable(std::chrono::steady_clock::now());
      } else if (fd == helper_.watch_fd()) {
        helper_.on_watch_readable(std::chrono::steady_clock::now());  // connects when it appeared
        watch_helper();
      } else if (events[i].events & (EPOLLERR | EPOLLHUP) && is_trigger_fd(fd)) {
        // Its cgroup was removed (perhaps to be made again at the same path): stop watching the
        // dead file now, and arm every trigger afresh at the next tick's rule refresh.
        epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
        armed_trigger_files_.clear();
        rules_stale_ = true;
      } else if (events[i].events & EPOLLPRI) {
        for (size_t t = 0; t < triggers_.size(); ++t) {
          if (triggers_[t].fd() != fd) continue;
          trigger_fired_[t] = 1;
          due = true;
        }
      } else {
        for (const auto& [cfd, component] : component_fds_) {
          if (cfd == fd) component->on_fd_ready(fd);
        }
      }
    }
    if (stopping_) break;
    if (reload_requested_) reload();
    if (due || tick_requested_) {
      tick();
      notify_systemd(false);
    }
  }

  pages_keeper_.reset();
  pinger_.reset();  // no ping once stopping: systemd's stop timeout holds from here
  notifier_.notify("STOPPING=1\nSTATUS=stopping: reverting actions");
  teller_.emit(Event{EventType::Stopping,
                     Priority::Info,
                     "guardian stopping: reverting " + std::to_string(active_.size()) + " active action(s)",
                     {}});
  unwind_all();
  actions_.finish();
  for (auto& component : components_) component->stop();
  return 0;
}

}  // namespace

int run_daemon(const DaemonOptions& options) {
  // Block the signals the loop reads through signalfd before any thread starts, so every
  // thread inherits the mask and the signals reach the signalfd.
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&mask, sig);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  // The MCL_FUTURE modes lock before the first thread starts, with stacks and arenas sized so
  // that every later mapping fits the limit; the loop-only mode locks after the first tick.
  MemoryLockStatus early_lock;
  early_lock.mode = options.lock_memory;
  if (options.lock_memory == MemoryLockMode::All || options.lock_memory == MemoryLockMode::AllOnFault) {
    prepare_for_future_locking();
    early_lock = lock_memory(options.lock_memory, nullptr);
  }
  Daemon daemon(options, std::move(early_lock));
  return daemon.run();
}

}  // namespace guardian
