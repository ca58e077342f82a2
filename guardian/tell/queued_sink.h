// Events written by a thread of their own, so that the loop never waits on the journal.
// sd_journal_sendv() writes to journald's datagram socket with a blocking send: when journald
// does not read (it stalls in reclaim as everything else of the user does, or it is busy), the
// send waits for room in its queue — and the loop with it, at the moment a level changes. Here
// emit() only queues (on any thread) and returns; the writer thread sends, in order.
//
// The queue is bounded: when it is full the oldest waiting events give way, and the writer says
// how many were dropped (one event) once it has room again. Destruction sends what is queued.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>

#include "common/event.h"

namespace guardian {

class QueuedSink final : public EventSink {
 public:
  explicit QueuedSink(size_t capacity = 512) : capacity_(capacity) {}
  ~QueuedSink() override { stop(); }
  QueuedSink(const QueuedSink&) = delete;
  QueuedSink& operator=(const QueuedSink&) = delete;

  // Starts the writer into `target` (which must outlive this sink, or stop()).
  void start(EventSink* target);
  // Sends what is queued and joins the writer; emit() after it writes directly.
  void stop();

  void emit(const Event& event) override;

  // Events dropped because the queue was full, in all.
  [[nodiscard]] size_t dropped() const;

 private:
  void run();

  const size_t capacity_;
  EventSink* target_ = nullptr;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Event> queue_;
  size_t dropped_ = 0;
  size_t dropped_untold_ = 0;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace guardian
