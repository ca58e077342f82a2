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
    if (!job.tell_result) {
      if (job.done) job.done(done);
      continue;
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

void ActionRunner::load_saved() {
  StateStore* state = env_.state;
  if (state == nullptr) return;
  // A dry run changes nothing, the state file included: a corrupt one is read around, not moved.
  auto loaded = state->load(env_.dry_run ? StateStore::OnCorrupt::Leave : StateStore::OnCorrupt::MoveAside);
  if (!loaded.ok()) {
    Event event{EventType::SenseProblem,
                Priority::Error,
                "state file refused: " + loaded.error().message +
                    "; its originals are not restored, and no change is made until it is fixed",
                {}};
    event.with("WHERE", state->path());
    tell_(event);
    return;
  }
  if (!loaded->unreadable.empty()) {
    Event event{EventType::SenseProblem,
                Priority::Error,
                "state file unreadable, the originals it held cannot be restored automatically: " +
                    loaded->unreadable +
                    (loaded->kept_aside.empty() ? "" : "; kept as " + loaded->kept_aside),
                {}};
    event.with("WHERE", state->path());
    tell_(event);
  }
  for (const auto& skipped : loaded->skipped) {
    Event event{
        EventType::SenseProblem,
        Priority::Warning,
        "state file " + state->path() + ": skipped " + skipped + " (the other entries are kept" +
            (loaded->kept_aside.empty() ? "" : "; the whole file as it was is in " + loaded->kept_aside) +
            ")",
        {}};
    event.with("WHERE", state->path());
    tell_(event);
  }
}

namespace {

// The restore at start as one job on the worker: every entry, one deadline. Its events are told
// on the loop after it finished (ActionJob::tell_result = false).
class SavedStateRestore final : public Action {
 public:
  SavedStateRestore(const ActionEnv& env, const ActionRegistry& registry, Policy policy)
      : env_(env), registry_(registry), policy_(std::move(policy)) {}
  [[nodiscard]] const std::string& type() const override { return type_; }
  [[nodiscard]] std::string describe() const override { return "restore what an earlier guardian left"; }

  ActionResult apply(Deadline deadline) override {
    StateStore& state = *env_.state;
    for (const auto& [key, saved] : state.entries()) {
      // Restored below, through the policy's instances.
      if (JellyfinSteering::handles_kind(saved.kind)) continue;
      Event event{EventType::StateRestored, Priority::Notice, {}, {}};
      event.with("KEY", key).with("KIND", saved.kind);
      const Restorer* restorer = registry_.restorer(saved.kind);
      if (!restorer) {
        event.priority = Priority::Warning;
        event.message =
            "saved original of " + key + " has unknown kind \"" + saved.kind + "\"; kept in " + state.path();
        event.with("RESULT", "unknown-kind");
        events.push_back(std::move(event));
        continue;
      }
      const RestoreAdmission* admit = registry_.admission(saved.kind);
      auto admitted = admit != nullptr
                          ? (*admit)(policy_, key, saved.original_json)
                          : Result<void>(make_error("no rule says what of this kind the policy manages"));
      if (!admitted.ok()) {
        event.priority = Priority::Warning;
        event.message =
            "saved entry " + key + " not acted on: " + admitted.error().message + "; kept in " + state.path();
        event.with("RESULT", "refused");
        events.push_back(std::move(event));
        continue;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        event.priority = Priority::Warning;
        event.message = "did not restore " + key + ": the start's restore budget ran out; kept in " +
                        state.path() + " for the next start";
        event.with("RESULT", "deferred");
        events.push_back(std::move(event));
        continue;
      }
      auto restored = (*restorer)(env_, key, saved.original_json, deadline);
      if (restored.ok()) {
        (void)state.forget(key);
        event.message = "restored " + key + " to the value saved before an earlier guardian changed it";
        event.with("RESULT", "restored");
      } else {
        event.priority = Priority::Error;
        event.message =
            "could not restore " + key + ": " + restored.error().message + " (kept in " + state.path() + ")";
        event.with("RESULT", "failed");
      }
      events.push_back(std::move(event));
    }
    // Jellyfin's entries last: an instance that does not answer costs its timeouts, and what it
    // keeps is retried when it answers again (JellyfinSteering::service).
    if (env_.jellyfin != nullptr) {
      for (auto& event : env_.jellyfin->restore_saved(deadline)) events.push_back(std::move(event));
    }
    return {ActionResult::Outcome::Applied, {}};
  }
  ActionResult revert(Deadline) override { return {ActionResult::Outcome::Unchanged, {}}; }

  std::vector<Event> events;  // written on the worker, read on the loop after the job finished

 private:
  std::string type_ = "state.restore";
  ActionEnv env_;
  const ActionRegistry& registry_;
  Policy policy_;
};

}  // namespace

void ActionRunner::restore_saved(const ActionRegistry& registry, const Policy& policy,
                                 std::chrono::milliseconds budget) {
  StateStore* state = env_.state;
  if (state == nullptr || state->entries().empty()) return;
  if (env_.dry_run) {
    for (const auto& [key, saved] : state->entries()) {
      Event event{EventType::StateRestored,
                  Priority::Notice,
                  "would restore " + key + " to the value saved by an earlier run (dry run)",
                  {}};
      event.with("KEY", key).with("KIND", saved.kind).with("RESULT", "dry-run");
      if (!JellyfinSteering::handles_kind(saved.kind)) {
        const RestoreAdmission* admit = registry.admission(saved.kind);
        auto admitted = admit != nullptr ? (*admit)(policy, key, saved.original_json)
                                         : Result<void>(make_error("no restorer or rule for this kind"));
        if (!admitted.ok()) {
          event.priority = Priority::Warning;
          event.message = "saved entry " + key + " would not be acted on: " + admitted.error().message;
          event.fields.back().second = "refused";
        }
      }
      tell_(event);
    }
    return;
  }
  auto restore = std::make_shared<SavedStateRestore>(env_, registry, policy);
  worker_.submit({.kind = ActionJob::Kind::Apply,
                  .action = restore,
                  .timeout = budget,
                  .tell_result = false,
                  .done = [this, restore](const ActionJobResult&) {
                    for (const auto& event : restore->events) tell_(event);
                  }});
}

}  // namespace guardian
