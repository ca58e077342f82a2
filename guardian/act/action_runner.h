// The one path every change to the system takes: the ladder's actions (the daemon) and the
// systemd component's own changes (container.slice's correction, slice.balance's steps). Here and
// only here: a dry run tells what would be done and runs nothing; each job runs on the worker
// thread with its deadline (an action saves the original before it changes anything, see
// action.h); each result becomes one event; and the originals an earlier guardian left in the
// state file are restored at start, in the background. Loop thread only.
#pragma once

#include <chrono>
#include <functional>

#include "act/action.h"
#include "act/action_worker.h"
#include "common/event.h"

namespace guardian {

class ActionRunner {
 public:
  // `env` (owned by the daemon, like everything it points to) outlives the runner; events go to
  // `tell` (the daemon's teller).
  ActionRunner(const ActionEnv& env, std::function<void(const Event&)> tell);
  ActionRunner(const ActionRunner&) = delete;
  ActionRunner& operator=(const ActionRunner&) = delete;

  [[nodiscard]] const ActionEnv& env() const { return env_; }
  [[nodiscard]] bool dry_run() const { return env_.dry_run; }

  // Queues `job` for the worker; in a dry run tells what it would do instead (its `done` never
  // runs then).
  void submit(ActionJob job);
  // Readable when results wait for collect().
  [[nodiscard]] int fd() const { return worker_.fd(); }
  // Tells each finished job's result, then runs its `done`.
  void collect();
  // Waits for every queued job and tells the results (at stop); then gives what Jellyfin kept
  // (restores it did not answer) one more try and tells what stays in the state file.
  void finish();

  // Loads the state file (before anything can be saved: at start, before the first action):
  // tells a file refused (its owner or mode, not a regular file), moved aside as PATH.corrupt,
  // and each entry skipped. Fast: the file is capped (act/state_store.h).
  void load_saved();
  // Puts back what an earlier guardian (one that crashed or was killed) left in the state file,
  // in the background: one job on the worker with one overall deadline `budget`, queued before
  // any action, so READY and the first tick never wait for it. An entry is acted on only where
  // `policy` manages its target (the registry's RestoreAdmission per kind; the Jellyfin kinds
  // through the policy's instance of their name, JellyfinSteering::restore_saved); others are
  // told and kept. Every action job submitted after it runs after it (the worker is FIFO): an
  // action on the same target finds the entry restored and forgotten (it saves the restored value
  // as its original) or kept (the first original wins: the action puts back only what it found).
  // Entries the budget does not reach are kept for the next start (Jellyfin ones are retried
  // when the instance answers, JellyfinSteering::service). A dry run tells what it would restore.
  static constexpr std::chrono::milliseconds kRestoreBudget{10'000};
  void restore_saved(const ActionRegistry& registry, const Policy& policy,
                     std::chrono::milliseconds budget = kRestoreBudget);

 private:
  const ActionEnv& env_;
  std::function<void(const Event&)> tell_;
  ActionWorker worker_;
};

}  // namespace guardian
