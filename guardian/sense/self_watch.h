// guardian's view of itself, the one thing it must keep seeing when memory runs out: how late the
// loop read each expiry of its tick timer, and whether its working set is locked in memory.
//
// Why: when the whole user's memory budget is exhausted, a task that charges memory (a new page,
// a fault on evicted text, an open()) sleeps in memcg reclaim and in memory.high's penalty. The
// loop is kept from charging (locked working set, no allocation, kept-open fds), and these say
// whether that held: a tick read late is the loop having stalled, whatever the cause.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "sense/snapshot.h"

namespace guardian {

// How late the loop read the tick timer's expiries: a histogram for /metrics, the latest value,
// and the maximum over the last minute for `guardian status`. Pure: time comes in as arguments.
class TickLateness {
 public:
  // Upper bounds of the histogram buckets, seconds (+Inf is implied). Fine below 1 s, where a
  // healthy loop lives; coarse above, where only "how long was it blind" matters.
  static constexpr std::array<double, 10> kBucketBounds = {0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30};
  static constexpr std::chrono::seconds kWindow{60};

  struct Histogram {
    std::array<uint64_t, kBucketBounds.size() + 1> buckets{};  // per bucket, not cumulative; last = +Inf
    uint64_t count = 0;
    double sum_seconds = 0;
  };

  // The timer was (re)armed at `now` to expire every `interval`, first at now + interval.
  void arm(MonoTime now, std::chrono::microseconds interval);

  // The loop read the timer at `now`, which said `expirations` expiries passed since the last
  // read (timerfd's count). Returns how late the earliest of them was read: now minus the time it
  // was due (0 when the timer is not armed or the count is 0). Every read is one observation.
  double on_expiry(MonoTime now, uint64_t expirations);

  [[nodiscard]] const Histogram& histogram() const { return histogram_; }
  [[nodiscard]] double last_seconds() const { return last_seconds_; }
  // The largest lateness read within kWindow before `now` (0 when none).
  [[nodiscard]] double window_max_seconds(MonoTime now) const;

 private:
  // The window as six 10-s slots, each the max of the observations in its slot.
  static constexpr std::chrono::seconds kSlot{10};
  struct Slot {
    int64_t index = -1;  // which 10-s slot since the epoch of MonoTime
    double max_seconds = 0;
  };
  std::array<Slot, kWindow / kSlot> slots_{};
  Histogram histogram_;
  MonoTime next_due_{};
  std::chrono::microseconds interval_{0};
  double last_seconds_ = 0;
};

// How guardian locks its memory at start (`guardian run --lock-memory=`).
enum class MemoryLockMode {
  None,        // no locking
  All,         // mlockall(MCL_CURRENT | MCL_FUTURE): every page now and every later mapping, faulted in
  AllOnFault,  // the same with MCL_ONFAULT: pages locked as they are touched
  LoopOnly,    // mlock2(MLOCK_ONFAULT): guardian's text and data, the code of the libraries a tick
               // runs in (libc, libstdc++, libm, libsystemd, libgcc_s), the heap, the loop's stack
};
std::string_view memory_lock_mode_name(MemoryLockMode mode);
Result<MemoryLockMode> parse_memory_lock_mode(std::string_view text);

// What came of it, for the start-up event, `guardian status` and `guardian doctor`.
struct MemoryLockStatus {
  MemoryLockMode mode = MemoryLockMode::None;
  bool locked = false;
  uint64_t limit_bytes = 0;   // RLIMIT_MEMLOCK (soft); UINT64_MAX = unlimited
  uint64_t needed_bytes = 0;  // what the mode asks the kernel to count against that limit
  std::string problem;        // why it is not locked ("" when locked or mode None)
  [[nodiscard]] std::string describe() const;
};

// For the MCL_FUTURE modes, before any thread starts: thread stacks and malloc arenas sized so
// that every later mapping fits the limit (a locked future mapping counts whole at mmap time).
void prepare_for_future_locking();

// Locks per `mode`. Never fails the daemon: a refusal is in the status, and it runs unlocked.
MemoryLockStatus lock_memory(MemoryLockMode mode, const void* loop_stack_address);

// VmLck and VmRSS of this process from /proc/self/status, in bytes (for the measurement and
// `guardian doctor`); nullopt fields when the kernel does not say.
struct OwnMemory {
  uint64_t locked_bytes = 0;
  uint64_t rss_bytes = 0;
};
Result<OwnMemory> parse_proc_status_memory(std::string_view text);

}  // namespace guardian
