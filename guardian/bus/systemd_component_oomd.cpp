// The systemd component's reading of systemd-oomd's live list (its dump over D-Bus): reconciled
// with the drop-ins the model used, handed to the loop, and every disagreement told once
// (systemd #43174).
#include <algorithm>

#include "bus/systemd_client.h"
#include "bus/systemd_component.h"
#include "model/oomd_live.h"
#include "sense/oomd_dump.h"

namespace guardian::bus {

void SystemdComponent::refresh_dump() {
  // Not connected: the call could only fail (the connection message already said why), and
  // posting it costs allocations on every interval; the first tick after it connects asks.
  if (!oomd_ || !oomd_->connected()) return;
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

}  // namespace guardian::bus
