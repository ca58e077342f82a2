// The systemd component's changes to container.slice: keeping it at the policy's
// [container_slice] limits (checked at start, on every PropertiesChanged and after a reconnect;
// corrected through act), and slice.balance's controller on the ticks while that mode is on.
#include <algorithm>
#include <limits>

#include "act/state_store.h"
#include "act/systemd_actions.h"
#include "bus/systemd_client.h"
#include "bus/systemd_component.h"
#include "common/host_root.h"
#include "common/units.h"
#include "config/policy.h"
#include "decide/slice_limits.h"

namespace guardian::bus {
namespace {

constexpr uint64_t kInfinity = std::numeric_limits<uint64_t>::max();

std::string limit_text(std::optional<uint64_t> bytes) { return bytes ? format_bytes(*bytes) : "infinity"; }

}  // namespace

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
  set_wanted_slice({resolve(wanted.memory_high), resolve(wanted.memory_max), wanted.hard_correction});
  if (auto floor = resolve(wanted.floor), ceiling = resolve(wanted.ceiling); floor && ceiling) {
    if (actions_.env().balance != nullptr) actions_.env().balance->set_default_band(*floor, *ceiling);
  }
}

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
  if (correcting_->count(property)) return;
  const ActionEnv& env = actions_.env();
  const std::string key = unit_property_key(options_.slice, property);
  // An action (slice.set-memory-high, slice.balance) has its own value in force: not ours to undo.
  if (env.state && env.state->get(key) && !corrections_.count(key)) return;
  if (env.balance != nullptr && env.balance->mode() && property == "MemoryHigh") return;

  // The value in force is guardian's own when a correction of this run saved the user's original.
  SliceLimitInput input;
  input.property = property;
  input.current = now;
  input.wanted = wanted;
  input.usage_bytes = slice_ ? slice_->memory_current : std::nullopt;
  input.hard = wanted_.hard;
  if (corrections_.count(key) && env.state) {
    if (auto saved = env.state->get(key)) input.user_original = saved_property_value(saved->original_json);
  }
  const SliceLimitPlan plan = plan_slice_limit(input);
  if (plan.kind == SliceLimitPlan::Kind::Defer)
    deferred_.insert(property);
  else
    deferred_.erase(property);
  if (plan.kind == SliceLimitPlan::Kind::AlreadyThere) return;
  if (plan.kind == SliceLimitPlan::Kind::Keep || plan.kind == SliceLimitPlan::Kind::Defer) {
    // Said once per distinct reason: the slice is checked after every change and reconnect.
    Event event{
        EventType::ActionApplied, Priority::Info, property + " of " + options_.slice + " " + plan.reason, {}};
    event.with("ACTION", "container-slice.correct").with("UNIT", options_.slice).with("RESULT", "unchanged");
    tell_once("slice-plan:" + property + ":" + plan.reason, event);
    return;
  }
  if (plan.kind == SliceLimitPlan::Kind::RestoreUser) {
    // guardian's own earlier value goes: the correction's revert puts the saved original back.
    auto correction = corrections_.find(key);
    if (correction == corrections_.end()) return;
    std::shared_ptr<Action> action = correction->second;
    corrections_.erase(correction);
    correcting_->insert(property);
    actions_.submit({.kind = ActionJob::Kind::Revert,
                     .action = action,
                     .timeout = kCallTimeout,
                     .priority = Priority::Notice,
                     .failure_priority = Priority::Warning,
                     .done = [this, correcting = std::weak_ptr(correcting_), property](
                                 const ActionJobResult&) { settle_correction(this, correcting, property); }});
    return;
  }
  std::shared_ptr<Action> correction =
      make_slice_correction(env, options_.slice, property, now, *plan.target, plan.reason);
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
  correcting_->insert(property);
  actions_.submit({.action = correction,
                   .timeout = kCallTimeout,
                   .priority = Priority::Notice,
                   .failure_priority = Priority::Warning,
                   .done = [this, correcting = std::weak_ptr(correcting_), property](const ActionJobResult&) {
                     settle_correction(this, correcting, property);
                   }});
}

void SystemdComponent::settle_correction(SystemdComponent* self,
                                         const std::weak_ptr<std::set<std::string>>& correcting,
                                         const std::string& property) {
  // `correcting` lives as long as the component: a done that outlived it does nothing, and `self`
  // is not touched before that is known (static for that reason).
  auto alive = correcting.lock();
  if (!alive) return;
  alive->erase(property);
  // A policy change (set_wanted_slice) that came while this correction was in flight was skipped
  // by correct(); look at the slice again so the newest wanted values are planned now, not at
  // some later PropertiesChanged that may never come.
  self->check_slice();
}

void SystemdComponent::recheck_deferred(MonoTime now) {
  if (deferred_.empty()) return;
  if (last_deferred_check_ != MonoTime{} && now - last_deferred_check_ < kDeferredCheckInterval) return;
  last_deferred_check_ = now;
  check_slice();
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
  // A step down throttles the slice: never while a cgroup oomd watches at or above it climbs
  // toward its limit (decide/slice_limits.h: Debian's user@.service, Fedora's per-slice rule).
  if (*step.new_limit_bytes < input.current_limit_bytes && tick.oomd) {
    const auto watched = watched_pressures(*tick.oomd);
    if (auto verdict = may_lower_limit(slice_path, watched); !verdict.allowed) {
      Event event{EventType::ActionApplied,
                  Priority::Info,
                  "slice.balance: MemoryHigh of " + mode->unit + " stays " +
                      limit_text(slice->memory.high_bytes) + " (" + step.reason + "): " + verdict.reason,
                  {}};
      event.with("ACTION", "slice.balance").with("RESULT", "unchanged");
      if (loop_ &&
          told_.insert("balance-guard:" + verdict.reason.substr(0, verdict.reason.find(" and its"))).second)
        loop_->tell(event);
      return;
    }
  }
  const std::string detail = "slice.balance: MemoryHigh of " + mode->unit + " " +
                             limit_text(slice->memory.high_bytes) + " -> " +
                             format_bytes(*step.new_limit_bytes) + " (" + step.reason + ")";
  // A step every few seconds: told at info level.
  actions_.submit({.action = make_balance_step(env, mode->unit, *step.new_limit_bytes, detail),
                   .timeout = kCallTimeout,
                   .priority = Priority::Info,
                   .failure_priority = Priority::Warning});
}

}  // namespace guardian::bus
