#include "bus/systemd_component.h"

#include <algorithm>
#include <limits>

#include "act/state_store.h"
#include "act/systemd_actions.h"
#include "bus/systemd_client.h"
#include "common/host_root.h"
#include "common/units.h"
#include "config/policy.h"
#include "model/oomd_live.h"
#include "sense/oomd_dump.h"

namespace guardian::bus {

namespace {
constexpr uint64_t kInfinity = std::numeric_limits<uint64_t>::max();
constexpr std::chrono::seconds kCallTimeout{2};

std::string limit_text(std::optional<uint64_t> bytes) { return bytes ? format_bytes(*bytes) : "infinity"; }
}  // namespace

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

void SystemdComponent::set_wanted_slice(ContainerSliceWanted wanted) {
  wanted_ = wanted;
  if (loop_) check_slice();
}

void SystemdComponent::on_policy(const Policy& policy) {
  const auto& wanted = policy.container_slice;
  options_.slice = wanted.unit;
  uint64_t ram = 0;
  const HostRoot host = options_.host_root.empty() ? HostRoot() : HostRoot(options_.host_root);
  if (auto meminfo = read_file(host.path("/proc/meminfo"))) {
    // "MemTotal:       31457280 kB"
    const auto at = meminfo->find("MemTotal:");
    if (at != std::string::npos) {
      std::string_view line = std::string_view(*meminfo).substr(at + 9);
      line = trim(line.substr(0, line.find('\n')));
      if (line.ends_with("kB")) line = trim(line.substr(0, line.size() - 2));
      ram = parse_u64(line).value_or(0) * 1024;
    }
  }
  auto resolve = [&](const std::optional<SizeSpec>& size) -> std::optional<uint64_t> {
    if (!size) return std::nullopt;
    const uint64_t bytes = size->resolve(ram);
    return bytes > 0 ? std::optional<uint64_t>(bytes) : std::nullopt;  // a percentage without MemTotal
  };
  set_wanted_slice({resolve(wanted.memory_high), resolve(wanted.memory_max)});
  if (auto floor = resolve(wanted.floor), ceiling = resolve(wanted.ceiling); floor && ceiling) {
    if (actions_.env().balance != nullptr) actions_.env().balance->set_default_band(*floor, *ceiling);
  }
}

void SystemdComponent::tell_once(const std::string& key, Event event) {
  if (!told_.insert(key).second || !loop_) return;
  loop_->tell(event);
}

void SystemdComponent::start(DaemonLoop& loop) {
  loop_ = &loop;
  systemd_ = make_shared_systemd_client(options_.user_bus, released_);
  oomd_ = std::make_unique<OomdClient>(options_.system_bus);
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

// ---------------------------------------------------------------- container.slice

void SystemdComponent::check_slice() {
  if (!systemd_) return;
  systemd_->get_unit(
      options_.slice,
      [this](Result<UnitProperties> result) {
        mailbox_.post([this, result = std::move(result)]() mutable { on_slice(std::move(result)); });
      },
      kCallTimeout);
}

void SystemdComponent::on_slice(Result<UnitProperties> result) {
  if (!result) {
    if (systemd_ && !systemd_->connected()) return;  // the connection message already said why
    Event event{EventType::SenseProblem,
                Priority::Warning,
                "cannot read " + options_.slice + ": " + result.error().message,
                {}};
    event.with("SOURCE", "dbus").with("UNIT", options_.slice);
    tell_once("slice-read:" + result.error().message, event);
    return;  // keep the last good view
  }
  slice_ = *result;
  if (slice_->load_state != "loaded") {
    Event event{EventType::SenseProblem,
                Priority::Warning,
                options_.slice + " is not installed (LoadState=" + slice_->load_state +
                    "): containers share memory pressure with the desktop; see units/container.slice",
                {}};
    event.with("UNIT", options_.slice);
    tell_once("slice-missing", event);
    return;
  }
  if (wanted_.memory_high) correct("MemoryHigh", slice_->memory_high, *wanted_.memory_high);
  if (wanted_.memory_max) correct("MemoryMax", slice_->memory_max, *wanted_.memory_max);
}

void SystemdComponent::correct(const std::string& property, std::optional<uint64_t> now, uint64_t wanted) {
  if (now == wanted || correcting_.count(property)) return;
  const ActionEnv& env = actions_.env();
  const std::string key = unit_property_key(options_.slice, property);
  // An action (slice.set-memory-high, slice.balance) has its own value in force: not ours to undo.
  if (env.state && env.state->get(key) && !corrections_.count(key)) return;
  if (env.balance != nullptr && env.balance->mode() && property == "MemoryHigh") return;
  std::shared_ptr<Action> correction = make_slice_correction(env, options_.slice, property, now, wanted);
  if (actions_.dry_run()) {
    // Said once per value: the slice is checked again after every change and reconnect.
    if (!told_.insert("dry-correct:" + correction->describe()).second) return;
    actions_.submit({.action = correction,
                     .timeout = kCallTimeout,
                     .priority = Priority::Info,
                     .failure_priority = Priority::Warning});
    return;
  }
  corrections_[key] = correction;
  // Until the correction is done, the unit's next PropertiesChanged may still show the old value.
  correcting_.insert(property);
  actions_.submit({.action = correction,
                   .timeout = kCallTimeout,
                   .priority = Priority::Notice,
                   .failure_priority = Priority::Warning,
                   .done = [this, property](const ActionJobResult&) { correcting_.erase(property); }});
}

// ---------------------------------------------------------------- containers

void SystemdComponent::refresh_containers() {
  if (!systemd_) return;
  std::shared_ptr<SystemdClient> client = systemd_;
  systemd_->list_units(
      [this, client](Result<std::vector<UnitListEntry>> units) {
        if (!units) return;  // the connection handler says why
        // Candidates: services (quadlets) and podman scopes; their properties tell which are containers.
        auto pending = std::make_shared<std::vector<UnitProperties>>();
        auto remaining = std::make_shared<size_t>(0);
        std::vector<std::string> names;
        for (const auto& unit : *units) {
          if (unit.name.ends_with(".service") || podman_scope_id(unit.name)) names.push_back(unit.name);
        }
        if (names.empty()) {
          mailbox_.post([this] { containers_.clear(); });
          return;
        }
        *remaining = names.size();
        // Runs on the bus thread: the callbacks of these calls run there too, one at a time.
        for (const auto& name : names) {
          client->get_unit(
              name,
              [this, pending, remaining](Result<UnitProperties> unit) {
                if (unit) pending->push_back(std::move(*unit));
                if (--*remaining > 0) return;
                std::vector<ContainerUnit> found;
                for (const auto& properties : *pending) {
                  if (auto container = classify_container(properties)) found.push_back(std::move(*container));
                }
                mailbox_.post([this, found = std::move(found)] {
                  containers_ = found;
                  for (const auto& container : containers_) {
                    if (container.in_container_slice) continue;
                    Event event{EventType::Notify,
                                Priority::Notice,
                                container.name + " (" + container.unit + ") runs in " + container.slice +
                                    ", outside " + options_.slice +
                                    (container.kind == ContainerKind::Quadlet
                                         ? "; `guardian adopt " + container.name + "` moves it"
                                         : std::string("; run it as a quadlet to move it")),
                                {}};
                    event.with("UNIT", container.unit).with("CONTAINER", container.name);
                    tell_once("outside:" + container.unit, event);
                  }
                });
              },
              kCallTimeout);
        }
      },
      kCallTimeout);
}

// ---------------------------------------------------------------- oomd's live view

void SystemdComponent::refresh_dump() {
  if (!oomd_) return;
  last_dump_ = std::chrono::steady_clock::now();
  oomd_->dump(
      [this](Result<std::string> text) {
        mailbox_.post([this, text = std::move(text)]() mutable { on_dump(std::move(text)); });
      },
      kCallTimeout);
}

void SystemdComponent::on_dump(Result<std::string> text) {
  if (!text) {
    if (oomd_ && !oomd_->connected()) return;  // the connection message already said why
    Event event{EventType::SenseProblem,
                Priority::Notice,
                "no live view from systemd-oomd: " + text.error().message,
                {}};
    event.with("SOURCE", "oomd");
    tell_once("dump:" + text.error().message, event);
    return;
  }
  auto dump = parse_oomd_dump(*text);
  if (!dump) {
    Event event{
        EventType::SenseProblem, Priority::Warning, "systemd-oomd's dump: " + dump.error().message, {}};
    event.with("SOURCE", "oomd");
    tell_once("dump-parse:" + dump.error().message, event);
    return;
  }
  live_dump_ = std::move(*dump);
  reconcile(/*tell_missing=*/std::chrono::steady_clock::now() >= quiet_missing_until_);
}

bool SystemdComponent::live_lacks_dropin_cgroups() const {
  if (!oomd_view_) return true;
  return std::any_of(
      oomd_view_->disagreements.begin(), oomd_view_->disagreements.end(),
      [](const WatchDisagreement& d) { return d.kind == WatchDisagreement::Kind::MissingFromLive; });
}

void SystemdComponent::reconcile(bool tell_missing) {
  if (!live_dump_) return;
  auto reconciliation = reconcile_watched(dropin_rules_, *live_dump_, user_manager_path_);
  for (const auto& disagreement : reconciliation.disagreements) {
    // Right after a slice appeared oomd may not list it yet: said only if it lasts.
    if (disagreement.kind == WatchDisagreement::Kind::MissingFromLive && !tell_missing) continue;
    Event event{
        EventType::SenseProblem,
        disagreement.kind == WatchDisagreement::Kind::MissingFromLive ? Priority::Warning : Priority::Notice,
        disagreement.detail + "; " + disagreement.next_step,
        {}};
    event.with("SOURCE", "oomd").with("CGROUP", disagreement.path);
    tell_once("oomd:" + disagreement.path + ":" + disagreement.detail, event);
  }
  loop_->use_live_oomd_rules(reconciliation.effective);
  oomd_view_ = std::move(reconciliation);
}

// ---------------------------------------------------------------- ticks

void SystemdComponent::on_tick(const TickView& tick) {
  level_ = tick.level_name.empty() ? "normal" : tick.level_name;
  active_actions_ = tick.active_actions;
  if (tick.layout) user_manager_path_ = tick.layout->user_manager_path;
  // The drop-in reading is compared with oomd's live list; the daemon re-reads it when slices
  // come and go, so a slice started after guardian is not reported as unexplained.
  const MonoTime now = tick.snapshot ? tick.snapshot->mono : std::chrono::steady_clock::now();
  if (tick.oomd_dropin_rules && *tick.oomd_dropin_rules != dropin_rules_) {
    const bool first_reading = dropin_rules_.empty();
    dropin_rules_ = *tick.oomd_dropin_rules;
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
  if (tick.snapshot) {
    // Kernel OOM kills: memory.events oom_kill rising between ticks.
    Snapshot before;
    before.cgroups.reserve(oom_kill_counts_.size());
    for (const auto& [path, count] : oom_kill_counts_) {
      CgroupSample sample;
      sample.path = path;
      sample.memory.events_oom_kill = count;
      before.cgroups.push_back(std::move(sample));
    }
    const bool first = oom_kill_counts_.empty();
    oom_kill_counts_.clear();
    for (const auto& cgroup : tick.snapshot->cgroups)
      oom_kill_counts_[cgroup.path] = cgroup.memory.events_oom_kill;
    if (!first) {
      for (const auto& kill : kills_from_memory_events(before, *tick.snapshot)) on_kill(kill);
    }
  }
  const bool fast = now < fast_dumps_until_ && live_lacks_dropin_cgroups();
  const auto interval = fast ? std::chrono::seconds(2) : std::chrono::seconds(options_.dump_interval);
  if (last_dump_ == MonoTime{} || now - last_dump_ >= interval) refresh_dump();
  if (rescan_containers_) {
    rescan_containers_ = false;
    refresh_containers();
  }
  run_balance(tick);
}

void SystemdComponent::run_balance(const TickView& tick) {
  const ActionEnv& env = actions_.env();
  auto mode = env.balance != nullptr ? env.balance->mode() : std::nullopt;
  if (!mode || !tick.snapshot || !tick.layout || tick.layout->user_manager_path.empty() || !systemd_) {
    balance_totals_.clear();
    return;
  }
  const MonoTime now = tick.snapshot->mono;
  if (last_balance_ != MonoTime{} && now - last_balance_ < options_.balance_interval) return;
  const double interval =
      last_balance_ == MonoTime{} ? 0 : std::chrono::duration<double>(now - last_balance_).count();
  last_balance_ = now;
  const std::string& manager = tick.layout->user_manager_path;
  const std::string slice_path = manager + "/" + mode->unit;
  const CgroupSample* slice = tick.snapshot->find(slice_path);
  if (!slice || !slice->pressure) return;
  double container_stall = 0;
  double desktop_stall = 0;
  std::map<std::string, uint64_t> totals;
  for (const auto& cgroup : tick.snapshot->cgroups) {
    // The user manager's direct child slices: the containers' and the desktop's.
    if (!cgroup.path.starts_with(manager + "/") || !cgroup.pressure) continue;
    if (cgroup.path.find('/', manager.size() + 1) != std::string::npos) continue;
    totals[cgroup.path] = cgroup.pressure->some.total_us;
    auto previous = balance_totals_.find(cgroup.path);
    if (previous == balance_totals_.end() || interval <= 0) continue;
    const double share = stall_share_percent(previous->second, cgroup.pressure->some.total_us, interval);
    if (cgroup.path == slice_path)
      container_stall = share;
    else
      desktop_stall = std::max(desktop_stall, share);
  }
  const bool have_history = !balance_totals_.empty();
  balance_totals_ = std::move(totals);
  if (!have_history || interval <= 0) return;
  BalanceInput input;
  input.current_limit_bytes = slice->memory.high_bytes.value_or(kInfinity);
  input.container_usage_bytes = slice->memory.current_bytes.value_or(0);
  input.container_stall_percent = container_stall;
  input.desktop_stall_percent = desktop_stall;
  auto step = balance_step(mode->settings, input);
  if (!step.new_limit_bytes) return;
  const std::string detail = "slice.balance: MemoryHigh of " + mode->unit + " " +
                             limit_text(slice->memory.high_bytes) + " -> " +
                             format_bytes(*step.new_limit_bytes) + " (" + step.reason + ")";
  // A step every few seconds: told at info level.
  actions_.submit({.action = make_balance_step(env, mode->unit, *step.new_limit_bytes, detail),
                   .timeout = kCallTimeout,
                   .priority = Priority::Info,
                   .failure_priority = Priority::Warning});
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
