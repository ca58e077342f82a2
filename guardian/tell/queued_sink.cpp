#include "tell/queued_sink.h"

#include <string>
#include <utility>

namespace guardian {

void QueuedSink::start(EventSink* target) {
  target_ = target;
  stopping_ = false;
  writer_ = std::thread([this] { run(); });
}

void QueuedSink::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void QueuedSink::emit(const Event& event) {
  {
    std::lock_guard lock(mutex_);
    if (writer_.joinable() && !stopping_) {
      if (queue_.size() >= capacity_) {
        queue_.pop_front();
        ++dropped_;
        ++dropped_untold_;
      }
      queue_.push_back(event);
      wake_.notify_one();
      return;
    }
  }
  if (target_ != nullptr) target_->emit(event);  // not started, or stopped: write it here
}

size_t QueuedSink::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

void QueuedSink::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty() && stopping_) return;
    Event event = std::move(queue_.front());
    queue_.pop_front();
    const size_t untold = std::exchange(dropped_untold_, 0);
    lock.unlock();
    if (untold > 0) {
      Event dropped{
          EventType::SenseProblem,
          Priority::Warning,
          "the journal did not keep up: " + std::to_string(untold) + " event(s) of guardian were dropped",
          {}};
      dropped.with("WHERE", "journal").with("DROPPED_EVENTS", std::to_string(untold));
      target_->emit(dropped);
    }
    target_->emit(event);
    lock.lock();
  }
}

}  // namespace guardian
