#include "daemon/watchdog_pinger.h"

#include <pthread.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace guardian {

void StatusMailbox::publish(std::string_view text) {
  std::array<uint64_t, kBytes / 8> words{};
  std::memcpy(words.data(), text.data(), std::min(text.size(), kBytes - 1));
  // A seqlock without standalone fences (ThreadSanitizer does not model them, and gcc refuses
  // them under -fsanitize=thread): each word is a release store, so a reader that acquires a new
  // word also sees the odd sequence stored before it, and re-reads it as changed.
  const uint64_t sequence = sequence_.load(std::memory_order_relaxed);
  sequence_.store(sequence + 1, std::memory_order_relaxed);
  for (size_t i = 0; i < words.size(); ++i) words_[i].store(words[i], std::memory_order_release);
  sequence_.store(sequence + 2, std::memory_order_release);
}

bool StatusMailbox::take_if_new(Text& out, uint64_t& seen) const {
  const uint64_t before = sequence_.load(std::memory_order_acquire);
  if ((before & 1) != 0 || before == seen) return false;
  std::array<uint64_t, kBytes / 8> words{};
  // acquire loads: the sequence's second read cannot move before them (see publish)
  for (size_t i = 0; i < words.size(); ++i) words[i] = words_[i].load(std::memory_order_acquire);
  if (sequence_.load(std::memory_order_relaxed) != before) return false;
  std::memcpy(out.data(), words.data(), kBytes);
  out[kBytes - 1] = '\0';
  seen = before;
  return true;
}

WatchdogPinger::WatchdogPinger(std::chrono::microseconds watchdog, SystemdNotifier notifier)
    : ping_period_(watchdog / 4), notifier_(std::move(notifier)) {
  thread_ = std::thread([this] { run(); });
  pthread_setname_np(thread_.native_handle(), "guardian-notify");
}

WatchdogPinger::~WatchdogPinger() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WatchdogPinger::run() {
  using Clock = std::chrono::steady_clock;
  LivenessGate gate;
  StatusMailbox::Text status{};
  uint64_t status_seen = 0;
  const bool watchdog = ping_period_.count() > 0;
  auto next_ping = Clock::now() + ping_period_;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto now = Clock::now();
    auto until = now + kStatusPeriod;
    if (watchdog) until = std::min(until, next_ping);
    wake_.wait_until(lock, until, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    if (status_.take_if_new(status, status_seen)) notifier_.notify(status.data());
    if (watchdog && Clock::now() >= next_ping) {
      if (gate.should_ping(beats_.load(std::memory_order_relaxed))) {
        notifier_.notify("WATCHDOG=1");
        pings_.fetch_add(1, std::memory_order_relaxed);
      }
      next_ping += ping_period_;
      // After a long sleep of this thread (suspend, its own stall): the next look one period on.
      if (next_ping < Clock::now()) next_ping = Clock::now() + ping_period_;
    }
    lock.lock();
  }
}

}  // namespace guardian
