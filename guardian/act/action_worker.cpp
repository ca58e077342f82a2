#include "act/action_worker.h"

#include <sys/eventfd.h>
#include <unistd.h>

namespace guardian {

ActionWorker::ActionWorker() : event_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  thread_ = std::thread([this] { run(); });
}

ActionWorker::~ActionWorker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ActionWorker::submit(ActionJob job) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
}

std::vector<ActionJobResult> ActionWorker::drain() {
  uint64_t count = 0;
  [[maybe_unused]] auto n = ::read(event_fd_.get(), &count, sizeof count);
  std::lock_guard lock(mutex_);
  return std::exchange(results_, {});
}

void ActionWorker::wait_idle() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

size_t ActionWorker::pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size() + (busy_ ? 1 : 0);
}

void ActionWorker::run() {
  for (;;) {
    ActionJob job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and nothing left to do
      job = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    const auto start = std::chrono::steady_clock::now();
    const Deadline deadline = start + job.timeout;
    ActionResult result = job.kind == ActionJob::Kind::Apply ? job.action->apply(deadline)
                                                             : job.action->revert(deadline);
    const auto end = std::chrono::steady_clock::now();
    if (end > deadline && result.outcome != ActionResult::Outcome::Failed) {
      // The action overran its deadline: its effect stands, but the overrun is reported.
      result.detail += " (took longer than its deadline)";
      result.outcome = ActionResult::Outcome::TimedOut;
    }
    {
      std::lock_guard lock(mutex_);
      results_.push_back({std::move(job), std::move(result),
                          std::chrono::duration_cast<std::chrono::milliseconds>(end - start)});
      busy_ = false;
    }
    idle_.notify_all();
    const uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(event_fd_.get(), &one, sizeof one);
  }
}

}  // namespace guardian
