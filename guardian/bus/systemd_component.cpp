// The systemd component's lifecycle (clients, connection messages, fds), OOM kills from every
// source, and the tick that drives the other parts (systemd_component_*.cpp).
#include "bus/systemd_component.h"

#include "bus/systemd_client.h"

namespace guardian::bus {

SystemdComponent::SystemdComponent(SystemdComponentOptions options, ActionRunner& actions)
    : options_(std::move(options)), actions_(actions), released_(std::make_shared<ReleasedClients>()) {}

SystemdComponent::~SystemdComponent() {
  // Clients first: their threads may still post into the mailbox. A callback in flight may
  // hold the systemd client: stop its thread, so nothing posts into a destroyed mailbox.
  if (systemd_) {
    if (actions_.env().systemd != nullptr) actions_.env().systemd->unplug();
    systemd_->shutdown();
  }
  systemd_.reset();
  oomd_.reset();
}

void SystemdComponent::tell_once(const std::string& key, Event event) {
  if (!told_.insert(key).second || !loop_) return;
  loop_->tell(event);
}

void SystemdComponent::start(DaemonLoop& loop) {
  loop_ = &loop;
  systemd_ = make_shared_systemd_client(options_.user_bus, released_);
  oomd_ = std::make_unique<OomdClient>(options_.system_bus);
  set_dump_inputs();
  oomd_->on_dump([this](Result<std::string> text) { prepare_dump(std::move(text)); });
  if (actions_.env().systemd != nullptr) actions_.env().systemd->plug(systemd_);

  systemd_->on_connection_change([this](bool connected, const std::string& why) {
    mailbox_.post([this, connected, why] {
      if (!connected) {
        Event event{
            EventType::SenseProblem,
            Priority::Warning,
            (user_bus_seen_ ? "lost the systemd user manager (" : "cannot reach the systemd user manager (") +
                why + "); keeping the last known state, retrying",
            {}};
        event.with("SOURCE", "dbus").with("BUS", "user");
        tell_once("user-bus-down", event);
        return;
      }
      user_bus_seen_ = true;
      if (told_.erase("user-bus-down")) {
        Event event{EventType::SenseProblem, Priority::Info, "reconnected to the systemd user manager", {}};
        event.with("SOURCE", "dbus").with("BUS", "user");
        loop_->tell(event);
      }
      check_slice();
      refresh_containers();
    });
  });
  systemd_->watch_units([this](const UnitSignal& signal) {
    mailbox_.post([this, signal] {
      if (signal.kind == UnitSignal::Kind::PropertiesChanged) {
        if (signal.unit == options_.slice) check_slice();
        return;
      }
      // A unit came or went: cgroups may have too, and so may containers.
      loop_->request_rescan();
      rescan_containers_ = true;
    });
  });
  oomd_->on_connection_change([this](bool connected, const std::string& why) {
    mailbox_.post([this, connected, why] {
      if (connected) {
        refresh_dump();
        return;
      }
      Event event{EventType::SenseProblem,
                  Priority::Warning,
                  "cannot reach systemd-oomd on the system bus (" + why +
                      "); using the drop-in reading of its configuration",
                  {}};
      event.with("SOURCE", "dbus").with("BUS", "system");
      tell_once("oomd-bus-down:" + why, event);
    });
  });
  oomd_->watch_kills([this](const OomdKilled& killed) {
    const MonoTime now = std::chrono::steady_clock::now();
    mailbox_.post([this, killed, now] {
      KillSeen kill;
      kill.killer = KillSeen::Killer::SystemdOomd;
      kill.source = KillSeen::Source::OomdSignal;
      kill.cgroup = killed.cgroup;
      kill.reason = killed.reason;
      kill.seen = now;
      on_kill(kill);
    });
  });
  if (options_.follow_journal) {
    auto reader = JournalKillReader::open();
    if (reader) {
      journal_ = std::move(*reader);
    } else {
      Event event{EventType::SenseProblem,
                  Priority::Notice,
                  "cannot follow the journal for OOM kills (" + reader.error().message +
                      "); the oomd signal and memory.events still report them",
                  {}};
      event.with("SOURCE", "journal");
      tell_once("journal", event);
    }
  }
}

std::vector<int> SystemdComponent::fds() const {
  std::vector<int> fds{mailbox_.fd()};
  if (journal_ && journal_->fd() >= 0) fds.push_back(journal_->fd());
  return fds;
}

void SystemdComponent::on_fd_ready(int fd) {
  if (fd == mailbox_.fd()) {
    mailbox_.drain();
    return;
  }
  if (journal_ && fd == journal_->fd()) {
    for (const auto& kill : journal_->read_new(std::chrono::steady_clock::now())) on_kill(kill);
  }
}

void SystemdComponent::on_kill(const KillSeen& kill) {
  auto fresh = merger_.offer(kill);
  if (!fresh) return;
  loop_->tell(kill_event(*fresh, level_, active_actions_));
  if (fresh->killer == KillSeen::Killer::SystemdOomd) loop_->note_oomd_kill(fresh->seen);
  loop_->request_tick();
}

void SystemdComponent::on_tick(const TickView& tick) {
  level_ = tick.level_name.empty() ? "normal" : tick.level_name;
  active_actions_ = tick.active_actions;
  bool inputs_changed = false;
  if (tick.layout && tick.layout->user_manager_path != user_manager_path_) {
    user_manager_path_ = tick.layout->user_manager_path;
    inputs_changed = true;
  }
  // The drop-in reading is compared with oomd's live list; the daemon re-reads it when slices
  // come and go, so a slice started after guardian is not reported as unexplained.
  const MonoTime now = tick.snapshot ? tick.snapshot->mono : std::chrono::steady_clock::now();
  if (tick.oomd_dropin_rules && *tick.oomd_dropin_rules != dropin_rules_) {
    const bool first_reading = dropin_rules_.empty();
    dropin_rules_ = *tick.oomd_dropin_rules;
    set_dump_inputs();
    inputs_changed = false;
    // A slice came or went (container.slice started after guardian): oomd's list is about to
    // change too, and until guardian has read it again the model runs on the old list, blind
    // to the new slice — measured in the VM: a whole minute, in which container.slice went
    // from 0 to 97% of oomd's limit unseen. Ask oomd at once, then every 2 s for a while.
    // (At start the reading is oomd's configuration as it stands: a difference is told at once.)
    fast_dumps_until_ = now + kFastDumpWindow;
    quiet_missing_until_ = first_reading ? MonoTime{} : fast_dumps_until_;
    last_dump_ = MonoTime{};
    reconcile(/*tell_missing=*/first_reading);
  }
  if (inputs_changed) set_dump_inputs();
  if (tick.snapshot) check_oom_kill_counts(*tick.snapshot);
  const bool fast = now < fast_dumps_until_ && live_lacks_dropin_cgroups();
  const auto interval = fast ? std::chrono::seconds(2) : std::chrono::seconds(options_.dump_interval);
  if (last_dump_ == MonoTime{} || now - last_dump_ >= interval) refresh_dump();
  if (rescan_containers_) {
    rescan_containers_ = false;
    refresh_containers();
  }
  if (tick.snapshot) recheck_deferred(tick.snapshot->mono);
  run_balance(tick);
}

void SystemdComponent::check_oom_kill_counts(const Snapshot& snapshot) {
  // Kernel OOM kills: memory.events oom_kill rising between ticks. The last counts are kept in
  // the snapshot's order and compared in place; the kills are worked out (with their strings)
  // only when a counter rose, so an ordinary tick allocates nothing.
  auto previous_count = [&](size_t index, const std::string& path) -> uint64_t {
    if (index < oom_kill_counts_.size() && oom_kill_counts_[index].first == path)
      return oom_kill_counts_[index].second;
    for (const auto& [known, count] : oom_kill_counts_) {
      if (known == path) return count;
    }
    return 0;  // a cgroup new since the last tick: its counter started at 0 with it
  };
  bool rose = false;
  if (!oom_kill_counts_.empty()) {
    for (size_t i = 0; i < snapshot.cgroups.size() && !rose; ++i) {
      const CgroupSample& cgroup = snapshot.cgroups[i];
      rose = cgroup.memory.events_oom_kill > previous_count(i, cgroup.path);
    }
  }
  if (rose) {
    Snapshot before;
    before.cgroups.reserve(oom_kill_counts_.size());
    for (const auto& [path, count] : oom_kill_counts_) {
      CgroupSample sample;
      sample.path = path;
      sample.memory.events_oom_kill = count;
      before.cgroups.push_back(std::move(sample));
    }
    for (const auto& kill : kills_from_memory_events(before, snapshot)) on_kill(kill);
  }
  oom_kill_counts_.resize(snapshot.cgroups.size());
  for (size_t i = 0; i < snapshot.cgroups.size(); ++i) {
    oom_kill_counts_[i].first.assign(snapshot.cgroups[i].path);
    oom_kill_counts_[i].second = snapshot.cgroups[i].memory.events_oom_kill;
  }
}

void SystemdComponent::stop() {
  // Put back what the slice corrections changed (the ladder's actions were unwound before this),
  // through the action path, while the client is still plugged in.
  if (loop_ && systemd_ && !corrections_.empty()) {
    for (const auto& [key, correction] : corrections_)
      actions_.submit({.kind = ActionJob::Kind::Revert,
                       .action = correction,
                       .timeout = kCallTimeout,
                       .priority = Priority::Notice,
                       .failure_priority = Priority::Warning});
    actions_.finish();
  }
  corrections_.clear();
  if (actions_.env().systemd != nullptr) actions_.env().systemd->unplug();
  if (systemd_) systemd_->shutdown();  // no callback of it runs after this
  systemd_.reset();
  oomd_.reset();
  journal_.reset();
  // A callback still running on the systemd client's bus thread may have held the last
  // reference: let that client finish going away before the process exits.
  released_->wait(std::chrono::seconds(2));
}

}  // namespace guardian::bus
