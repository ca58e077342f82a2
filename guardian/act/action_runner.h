// The one path every change to the system takes: the ladder's actions (the daemon) and the
// systemd component's own changes (container.slice's correction, slice.balance's steps). Here and
// only here: a dry run tells what would be done and runs nothing; each job runs on the worker
// thread with its deadline (an action saves the original before it changes anything, see
// action.h); each result becomes one event; and the originals an earlier guardian left in the
// state file are restored at start. Loop thread only.
#pragma once

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

  // Puts back every value the state file holds from an earlier guardian (one that crashed or was
  // killed) with the restorer of its kind, and forgets it; tells one StateRestored each. A dry
  // run only says what it would restore. Blocking (each restorer has 10 s): before the loop runs.
  // The Jellyfin kinds are left for restore_jellyfin().
  void restore_saved(const ActionRegistry& registry);
  // Puts back what an earlier guardian changed in Jellyfin, through the policy's instance of each
  // entry's name (ActionEnv::jellyfin, JellyfinSteering::restore_saved): after the policy is in
  // force. A dry run only says what it would restore. Blocking (10 s).
  void restore_jellyfin();

 private:
  const ActionEnv& env_;
  std::function<void(const Event&)> tell_;
  ActionWorker worker_;
};

}  // namespace guardian
