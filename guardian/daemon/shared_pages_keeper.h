// Locks the shared libraries' pages the loop uses, from a thread of its own (issue 10).
//
// After warm-up (kWarmupTicks of the loop: its first oomd dump and scrape are behind it) and
// again every kRescan while the loop says it is quiet (level normal, on time), this thread reads
// which pages of the shared libraries' code and read-only data are present in guardian
// (/proc/self/pagemap) and locks the new ones while RLIMIT_MEMLOCK allows (SharedPagesLock). The
// scan opens /proc/self/maps and allocates: charges that belong on this thread, never on the
// loop, and only while memory is not short. The loop only bumps a counter and sets a flag.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "sense/self_watch.h"

namespace guardian {

class SharedPagesKeeper {
 public:
  static constexpr uint64_t kWarmupTicks = 5;
  static constexpr std::chrono::seconds kRescan{60};

  SharedPagesKeeper(std::string binary, uint64_t limit_bytes, uint64_t already_locked_bytes);
  ~SharedPagesKeeper();  // stops and joins the thread
  SharedPagesKeeper(const SharedPagesKeeper&) = delete;
  SharedPagesKeeper& operator=(const SharedPagesKeeper&) = delete;

  // The loop, after each tick: no lock, no allocation.
  void beat(bool quiet) {
    quiet_.store(quiet, std::memory_order_relaxed);
    beats_.fetch_add(1, std::memory_order_relaxed);
  }

  // Bumped after each scan; the loop compares it to what it last read (no lock).
  [[nodiscard]] uint64_t scans() const { return scans_.load(std::memory_order_acquire); }
  struct Result {
    SharedPagesLock::Scan scan;
    std::chrono::microseconds took{0};
    uint64_t scans = 0;
  };
  // The latest scan's result (a copy, under a lock the loop takes only after scans() moved).
  [[nodiscard]] Result last() const;

 private:
  void run();

  SharedPagesLock lock_;
  std::atomic<uint64_t> beats_{0};
  std::atomic<bool> quiet_{false};
  std::atomic<uint64_t> scans_{0};
  mutable std::mutex mutex_;  // last_ and stopping_
  std::condition_variable wake_;
  Result last_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace guardian
