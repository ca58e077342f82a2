#include "daemon/shared_pages_keeper.h"

#include <pthread.h>

#include <utility>

namespace guardian {

SharedPagesKeeper::SharedPagesKeeper(std::string binary, uint64_t limit_bytes, uint64_t already_locked_bytes)
    : lock_(std::move(binary), limit_bytes, already_locked_bytes) {
  thread_ = std::thread([this] { run(); });
  pthread_setname_np(thread_.native_handle(), "guardian-lock");
}

SharedPagesKeeper::~SharedPagesKeeper() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

SharedPagesKeeper::Result SharedPagesKeeper::last() const {
  std::lock_guard lock(mutex_);
  return last_;
}

void SharedPagesKeeper::run() {
  using Clock = std::chrono::steady_clock;
  constexpr std::chrono::seconds kLook{1};
  Clock::time_point next_scan{};  // the first: as soon as the loop is warm
  uint64_t scanned = 0;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, kLook, [this] { return stopping_; });
    if (stopping_) break;
    const bool warm = beats_.load(std::memory_order_relaxed) >= kWarmupTicks;
    // The first scan whatever the pressure (what the warm loop touched is what it needs); the
    // later ones only while quiet, when a scan's own charges cost nothing.
    if (!warm || Clock::now() < next_scan || (scanned > 0 && !quiet_.load(std::memory_order_relaxed)))
      continue;
    lock.unlock();
    const auto began = Clock::now();
    SharedPagesLock::Scan scan = lock_.scan_and_lock();
    const auto took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - began);
    lock.lock();
    ++scanned;
    last_ = Result{std::move(scan), took, scanned};
    scans_.store(scanned, std::memory_order_release);
    next_scan = Clock::now() + kRescan;
  }
}

}  // namespace guardian
