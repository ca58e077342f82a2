// ActionWorker: runs actions' apply/revert on one thread, in submission order, so the event
// loop never waits on systemd, Jellyfin or a file. Results come back through an eventfd the
// loop polls; drain() hands them over on the loop thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "act/action.h"
#include "common/event.h"
#include "common/fd.h"

namespace guardian {

struct ActionJobResult;

struct ActionJob {
  enum class Kind { Apply, Revert } kind = Kind::Apply;
  std::shared_ptr<Action> action;  // shared: the loop may drop its reference while the job runs
  // "critical/slice.set-memory-high" (level/type): the result's message starts with it. Empty for
  // a component's own change, whose message is the action's detail alone.
  std::string label{};
  std::chrono::milliseconds timeout{10'000};
  // How ActionRunner tells the result: the ladder level whose action this is (GUARDIAN_LEVEL;
  // empty for none), and the syslog priority when it worked (or would, in a dry run) and when not.
  std::string level{};
  int priority = Priority::Notice;
  int failure_priority = Priority::Error;
  // false: the job tells its own events through `done` (the restore at start tells one per
  // entry), and ActionRunner tells no result event for it.
  bool tell_result = true;
  // Runs on the loop thread once the result has been told (ActionRunner::collect).
  std::function<void(const ActionJobResult&)> done = nullptr;
  // Runs on the loop thread when the job failed, before the result is told; what it returns is
  // added to the message (the daemon's retry schedule says when it tries an apply again).
  std::function<std::string(const ActionJobResult&)> on_failure = nullptr;
};

struct ActionJobResult {
  ActionJob job;
  ActionResult result;
  std::chrono::milliseconds took{0};
};

class ActionWorker {
 public:
  ActionWorker();
  ~ActionWorker();  // finishes the queue, then joins
  ActionWorker(const ActionWorker&) = delete;
  ActionWorker& operator=(const ActionWorker&) = delete;

  void submit(ActionJob job);
  // The eventfd that becomes readable when results are ready.
  [[nodiscard]] int fd() const { return event_fd_.get(); }
  std::vector<ActionJobResult> drain();
  // Blocks until every submitted job has finished (shutdown, tests).
  void wait_idle();
  [[nodiscard]] size_t pending() const;

 private:
  void run();
  UniqueFd event_fd_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<ActionJob> queue_;
  std::vector<ActionJobResult> results_;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace guardian
