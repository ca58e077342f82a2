#include "act/action_runner.h"

#include "act/jellyfin_steering.h"
#include "act/state_store.h"

namespace guardian {

ActionRunner::ActionRunner(const ActionEnv& env, std::function<void(const Event&)> tell)
    : env_(env), tell_(std::move(tell)) {}

void ActionRunner::submit(ActionJob job) {
  if (!env_.dry_run) {
    worker_.submit(std::move(job));
    return;
  }
  const bool apply = job.kind == ActionJob::Kind::Apply;
  Event event{apply ? EventType::ActionApplied : EventType::ActionReverted,
              job.priority,
              (apply ? "dry run: would " : "dry run: would revert ") + job.action->describe(),
              {}};
  event.with("ACTION", job.action->type());
  if (!job.level.empty()) event.with("LEVEL", job.level);
  event.with("RESULT", "dry-run");
  tell_(event);
}

void ActionRunner::collect() {
  for (auto& done : worker_.drain()) {
    const ActionJob& job = done.job;
    const bool failed = done.result.outcome == ActionResult::Outcome::Failed ||
                        done.result.outcome == ActionResult::Outcome::TimedOut;
    const bool apply = job.kind == ActionJob::Kind::Apply;
    const EventType type = failed  ? EventType::ActionFailed
                           : apply ? EventType::ActionApplied
                                   : EventType::ActionReverted;
    std::string message = done.result.detail;
    if (!job.label.empty()) {
      message = failed ? job.label + " failed: " + done.result.detail
                       : job.label + (apply ? " applied" : " reverted") +
                             (done.result.detail.empty() ? "" : ": " + done.result.detail);
    }
    if (failed && job.on_failure) message += job.on_failure(done);
    Event event{type, failed ? job.failure_priority : job.priority, std::move(message), {}};
    event.with("ACTION", job.action->type());
    if (!job.level.empty()) event.with("LEVEL", job.level);
    event.with("RESULT", std::string(outcome_name(done.result.outcome)))
        .with("DURATION_MS", std::to_string(done.took.count()));
    tell_(event);
    if (job.done) job.done(done);
  }
}

void ActionRunner::finish() {
  worker_.wait_idle();
  collect();
  // Whatever could not be put back in Jellyfin meanwhile (it did not answer): one more try, and
  // what stays in the state file is said. A dry run changed nothing there.
  if (env_.jellyfin != nullptr && !env_.dry_run) {
    for (const auto& event :
         env_.jellyfin->finish(std::chrono::steady_clock::now() + std::chrono::seconds(10)))
      tell_(event);
  }
}

void ActionRunner::restore_saved(const ActionRegistry& registry) {
  StateStore* state = env_.state;
  if (state == nullptr) return;
  if (auto loaded = state->load(); !loaded.ok()) {
    tell_(Event{EventType::SenseProblem,
                Priority::Error,
                "state file unreadable, original values it held cannot be restored automatically: " +
                    loaded.error().message,
                {}});
    return;
  }
  for (const auto& [key, saved] : state->entries()) {
    // Restored once the policy is in force, through its instances (restore_jellyfin).
    if (JellyfinSteering::handles_kind(saved.kind)) continue;
    const Restorer* restorer = registry.restorer(saved.kind);
    Event event{EventType::StateRestored, Priority::Notice, {}, {}};
    event.with("KEY", key).with("KIND", saved.kind);
    if (!restorer) {
      event.priority = Priority::Warning;
      event.message =
          "saved original of " + key + " has unknown kind \"" + saved.kind + "\"; kept in " + state->path();
      event.with("RESULT", "unknown-kind");
      tell_(event);
      continue;
    }
    if (env_.dry_run) {
      event.message = "would restore " + key + " to the value saved by an earlier run (dry run)";
      event.with("RESULT", "dry-run");
      tell_(event);
      continue;
    }
    auto restored = (*restorer)(env_, key, saved.original_json,
                                std::chrono::steady_clock::now() + std::chrono::seconds(10));
    if (restored.ok()) {
      (void)state->forget(key);
      event.message = "restored " + key + " to the value saved before an earlier guardian changed it";
      event.with("RESULT", "restored");
    } else {
      event.priority = Priority::Error;
      event.message =
          "could not restore " + key + ": " + restored.error().message + " (kept in " + state->path() + ")";
      event.with("RESULT", "failed");
    }
    tell_(event);
  }
}

void ActionRunner::restore_jellyfin() {
  StateStore* state = env_.state;
  if (state == nullptr || env_.jellyfin == nullptr) return;
  if (env_.dry_run) {
    for (const auto& [key, saved] : state->entries()) {
      if (!JellyfinSteering::handles_kind(saved.kind)) continue;
      Event event{EventType::StateRestored,
                  Priority::Notice,
                  "would restore " + key + " to the value saved by an earlier run (dry run)",
                  {}};
      event.with("KEY", key).with("KIND", saved.kind).with("RESULT", "dry-run");
      tell_(event);
    }
    return;
  }
  for (const auto& event :
       env_.jellyfin->restore_saved(std::chrono::steady_clock::now() + std::chrono::seconds(10)))
    tell_(event);
}

}  // namespace guardian
