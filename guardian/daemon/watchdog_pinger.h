// systemd's watchdog ping (WATCHDOG=1) and the STATUS= line, sent from a thread of their own and
// not from the loop (issue 10).
//
// Why: a datagram to $NOTIFY_SOCKET is an skb charged to guardian's memory cgroup, and when the
// whole user is over its MemoryHigh the kernel makes the task that charged sleep in memory.high's
// penalty on its way back to user space. Sent from the loop every tick, the ping was the loop's
// most frequent charge in the VM's run-up (42-52 of ~130, tests/vm/FINDINGS-issue10.md). Sent
// from here, the penalty falls on this thread.
//
// The ping still means "the loop is alive": the loop bumps a counter (one relaxed atomic add, no
// lock) after each tick, and this thread pings, every WatchdogSec/4, only when the counter moved
// since its last ping. A loop stuck for WatchdogSec gets no ping, and systemd restarts guardian.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <thread>

#include "daemon/systemd_notifier.h"

namespace guardian {

// Whether to ping: the loop's counter moved since the last ping. Pure.
class LivenessGate {
 public:
  // `beats`: the loop's counter now. True (and remembered) when it differs from the last ping's.
  bool should_ping(uint64_t beats) {
    if (beats == last_) return false;
    last_ = beats;
    return true;
  }

 private:
  uint64_t last_ = 0;  // the loop's counter starts at 0 and is first bumped after its first tick
};

// The latest STATUS= text, written by the loop without a lock or an allocation (a sequence lock
// over atomic words), read by the pinger.
class StatusMailbox {
 public:
  static constexpr size_t kBytes = 256;
  using Text = std::array<char, kBytes>;  // NUL-terminated

  // The loop: a new text (cut at kBytes - 1).
  void publish(std::string_view text);
  // The pinger: copies the latest text into `out` when it is newer than `seen` (and updates
  // `seen`); false when nothing new, or a publish is under way (the next look gets it).
  bool take_if_new(Text& out, uint64_t& seen) const;

 private:
  std::atomic<uint64_t> sequence_{0};  // odd while a publish is under way
  std::array<std::atomic<uint64_t>, kBytes / 8> words_{};
};

class WatchdogPinger {
 public:
  // `watchdog`: WatchdogSec (0 = no watchdog: only STATUS= is sent). `notifier` is this thread's
  // own (its socket connected once, at start); the loop keeps its own for READY=1 and STOPPING=1.
  WatchdogPinger(std::chrono::microseconds watchdog, SystemdNotifier notifier);
  ~WatchdogPinger();  // stops and joins the thread
  WatchdogPinger(const WatchdogPinger&) = delete;
  WatchdogPinger& operator=(const WatchdogPinger&) = delete;

  // The loop, after each tick: no lock, no allocation.
  void beat() { beats_.fetch_add(1, std::memory_order_relaxed); }
  void publish_status(std::string_view text) { status_.publish(text); }

  // How often it pings when the loop is alive: WatchdogSec/4 (systemd restarts after WatchdogSec
  // without one, so a ping lost to a full queue or a late wake-up still leaves three).
  [[nodiscard]] std::chrono::microseconds ping_period() const { return ping_period_; }
  [[nodiscard]] uint64_t pings() const { return pings_.load(std::memory_order_relaxed); }

  // How often it looks for a new STATUS= text.
  static constexpr std::chrono::milliseconds kStatusPeriod{1000};

 private:
  void run();

  std::chrono::microseconds ping_period_;
  SystemdNotifier notifier_;
  std::atomic<uint64_t> beats_{0};
  std::atomic<uint64_t> pings_{0};
  StatusMailbox status_;
  std::mutex mutex_;  // only for stopping_ and the wait: never taken by the loop while it ticks
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace guardian
