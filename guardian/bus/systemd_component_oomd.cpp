// The systemd component's reading of systemd-oomd's live list (its dump over D-Bus): reconciled
// with the drop-ins the model used, handed to the loop, and every disagreement told once
// (systemd #43174).
//
// The dump is read, parsed and reconciled on the oomd client's bus thread, with the events it
// may tell already written: the loop only moves the result in, compares the rules and looks up
// what it has told. Under the user's exhausted budget a heap page the loop charges is a wait in
// reclaim (issue 10); a dump of a few kB parsed into strings every minute was the loop's last
// steady-state allocation with a live system bus (tests/daemon/steady_tick.cpp).
#include <algorithm>

#include "bus/systemd_client.h"
#include "bus/systemd_component.h"
#include "model/oomd_live.h"
#include "sense/oomd_dump.h"

namespace guardian::bus {

namespace {

Event dump_problem(Priority::Level priority, std::string message) {
  Event event{EventType::SenseProblem, priority, std::move(message), {}};
  event.with("SOURCE", "oomd");
  return event;
}

}  // namespace

// `live` against `inputs`, with each disagreement's event and the key it is told once under.
SystemdComponent::ReadyDump SystemdComponent::reconciled(std::shared_ptr<const DumpInputs> inputs,
                                                         OomdDump live) {
  ReadyDump ready;
  ready.reconciliation = reconcile_watched(inputs->dropin_rules, live, inputs->user_manager_path);
  for (const auto& disagreement : ready.reconciliation->disagreements) {
    const bool missing = disagreement.kind == WatchDisagreement::Kind::MissingFromLive;
    Event event{EventType::SenseProblem,
                missing ? Priority::Warning : Priority::Notice,
                disagreement.detail + "; " + disagreement.next_step,
                {}};
    event.with("SOURCE", "oomd").with("CGROUP", disagreement.path);
    ready.told.push_back(
        {"oomd:" + disagreement.path + ":" + disagreement.detail, std::move(event), missing});
  }
  ready.dump = std::move(live);
  ready.inputs = std::move(inputs);
  return ready;
}

void SystemdComponent::set_dump_inputs() {
  auto inputs = std::make_shared<DumpInputs>();
  inputs->dropin_rules = dropin_rules_;
  inputs->user_manager_path = user_manager_path_;
  std::lock_guard lock(dump_inputs_mutex_);
  dump_inputs_ = std::move(inputs);
}

std::shared_ptr<const SystemdComponent::DumpInputs> SystemdComponent::dump_inputs() const {
  std::lock_guard lock(dump_inputs_mutex_);
  return dump_inputs_;
}

void SystemdComponent::refresh_dump() {
  // Not connected: the call could only fail (the connection message already said why); the
  // first tick after it connects asks.
  if (!oomd_ || !oomd_->connected()) return;
  last_dump_ = std::chrono::steady_clock::now();
  oomd_->request_dump(kCallTimeout);
}

void SystemdComponent::prepare_dump(Result<std::string> text) {
  // On the oomd client's bus thread: everything that allocates happens here.
  ReadyDump ready;
  if (!text) {
    ready.call_failed = true;  // the loop checks the connection (oomd_ is the loop's)
    ready.told.push_back(
        {"dump:" + text.error().message,
         dump_problem(Priority::Notice, "no live view from systemd-oomd: " + text.error().message), false});
  } else if (auto dump = parse_oomd_dump(*text); !dump) {
    ready.told.push_back({"dump-parse:" + dump.error().message,
                          dump_problem(Priority::Warning, "systemd-oomd's dump: " + dump.error().message),
                          false});
  } else {
    ready = reconciled(dump_inputs(), std::move(*dump));
  }
  mailbox_.post([this, ready = std::move(ready)]() mutable { on_dump(std::move(ready)); });
}

void SystemdComponent::on_dump(ReadyDump ready) {
  // On the loop: moves and look-ups, and strings only for what is told for the first time.
  if (!ready.dump) {
    if (ready.call_failed && oomd_ && !oomd_->connected()) return;  // the connection message said why
    for (auto& told : ready.told) tell_once(told.key, std::move(told.event));
    return;
  }
  live_dump_ = std::move(ready.dump);
  const bool tell_missing = std::chrono::steady_clock::now() >= quiet_missing_until_;
  if (ready.inputs != dump_inputs()) {
    // The drop-ins (or the user manager) changed while the dump was on its way: reconcile
    // against the new ones here, as on_tick does when they change.
    reconcile(tell_missing);
    return;
  }
  use_reconciled(std::move(ready), tell_missing);
}

void SystemdComponent::use_reconciled(ReadyDump ready, bool tell_missing) {
  for (auto& told : ready.told) {
    // Right after a slice appeared oomd may not list it yet: said only if it lasts.
    if (told.missing_from_live && !tell_missing) continue;
    tell_once(told.key, std::move(told.event));
  }
  loop_->use_live_oomd_rules(ready.reconciliation->effective);
  oomd_view_ = std::move(ready.reconciliation);
}

bool SystemdComponent::live_lacks_dropin_cgroups() const {
  if (!oomd_view_) return true;
  return std::any_of(
      oomd_view_->disagreements.begin(), oomd_view_->disagreements.end(),
      [](const WatchDisagreement& d) { return d.kind == WatchDisagreement::Kind::MissingFromLive; });
}

void SystemdComponent::reconcile(bool tell_missing) {
  if (!live_dump_) return;
  use_reconciled(reconciled(dump_inputs(), *live_dump_), tell_missing);
}

}  // namespace guardian::bus
