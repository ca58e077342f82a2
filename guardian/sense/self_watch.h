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
#include <utility>
#include <vector>

#include "common/fd.h"
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
  LoopOnly,    // the mappings the loop runs in, by priority while they fit RLIMIT_MEMLOCK
               // (plan_loop_lock): guardian's own code and data and the libraries only it maps
               // populated, the heap locked as touched; after warm-up the shared libraries'
               // pages present then (plan_shared_pages_lock), by the page
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
  // LoopOnly: what the limit made it leave out (names of plan parts, most important first);
  // empty when the whole set is locked. locked with left_out = a smaller lock, not none.
  std::vector<std::string> left_out;
  uint64_t left_out_bytes = 0;
  // LoopOnly, after warm-up (SharedPagesLock): the shared libraries' present pages locked, the
  // libraries whose pages the limit left out, and a scan's problem ("" when none).
  bool shared_scanned = false;
  uint64_t shared_locked_bytes = 0;
  std::vector<std::string> shared_left_out;
  uint64_t shared_left_out_bytes = 0;
  std::string shared_problem;
  [[nodiscard]] std::string describe() const;
};

// One line of /proc/PID/maps.
struct Mapping {
  uintptr_t start = 0;
  uintptr_t end = 0;
  bool readable = false;
  bool writable = false;
  bool executable = false;
  uint64_t offset = 0;  // in the file
  std::string path;     // "" for anonymous, "[heap]", "[stack]", or the file
};
// Lines that do not read as a mapping are skipped (the kernel writes this file; nothing to report).
std::vector<Mapping> parse_proc_maps(std::string_view text);

// How a part of the loop's lock is made.
enum class LockHow {
  Populate,  // mlock2(flags 0): every page read in and locked now, before any pressure
  OnFault,   // mlock2(MLOCK_ONFAULT): pages present now and every page touched later stay
};

// What `--lock-memory=loop` locks, in priority order; a part is locked whole or not at all.
struct LockPart {
  std::string name;  // what it is, for the start event and doctor ("guardian's code and data")
  LockHow how = LockHow::OnFault;
  std::vector<std::pair<uintptr_t, uintptr_t>> ranges;
  uint64_t bytes = 0;  // what the kernel counts against RLIMIT_MEMLOCK: the whole ranges, either way
};
struct LoopLockPlan {
  std::vector<LockPart> parts;     // to lock, most important first
  std::vector<LockPart> left_out;  // did not fit the limit
  uint64_t bytes = 0;              // sum over parts
  uint64_t wanted_bytes = 0;       // sum over every part, had the limit no say
};

// Kept free under RLIMIT_MEMLOCK: a sixteenth of it, at most 256 KiB. Nothing in the loop's lock
// grows by itself (the heap grows by brk into a new, unlocked mapping; the stack's lock begins
// above its mapping's lowest page, so it grows into an unlocked one; threads' stacks are not
// locked), so this is room for a build or library version that maps a little more than measured.
uint64_t memlock_reserve(uint64_t limit_bytes);

// The parts of the loop's lock, from this process's maps, in priority order, as many as fit
// `limit_bytes` less memlock_reserve (UINT64_MAX: no limit). Pure, so the choice is testable:
//  1. the loop's stack (60 KiB below `loop_stack_address`, prefaulted by the daemon, up
//     to the stack's top)                                                                 populate
//  2. guardian's own code and data (every mapping of `binary`)                             populate
//  3. the libraries only guardian maps whose code the loop runs: sdbus-c++ (signals, the
//     status object), prometheus-cpp-core (metrics updates), all their mappings            populate
//  4. the heap                                                                            on fault
// Populated: a path the loop first takes under pressure (the climb, the stalled event,
// critical's actions, the journal sink) would otherwise fault on its code exactly when memory is
// short; these pages are guardian's alone. The heap on fault: its free pages would be populated
// for nothing. The shared libraries (libc, libstdc++, libsystemd, libm, …) come after warm-up,
// page by page: plan_shared_pages_lock.
LoopLockPlan plan_loop_lock(const std::vector<Mapping>& maps, std::string_view binary,
                            uintptr_t loop_stack_address, uint64_t limit_bytes);

// A run of whole pages, [start, end).
struct PageRun {
  uintptr_t start = 0;
  uintptr_t end = 0;
  bool operator==(const PageRun&) const = default;
};

// Whether `mapping` is one whose pages plan_shared_pages_lock locks: a shared object's ("….so…")
// read-only mapping, code (r-x) or read-only data (r--), neither `binary` nor a library that
// plan_loop_lock locks whole (sdbus-c++, prometheus-cpp-core).
bool is_shared_readonly(const Mapping& mapping, std::string_view binary);

// The shared libraries' part of the loop's working set: of their read-only mappings (code and
// read-only data), exactly the pages present in this process after warm-up — the pages its
// threads touched (or the kernel's fault-around mapped beside them). Locked whole-range, libc's,
// libstdc++'s and libm's code alone count 3.4 MiB against RLIMIT_MEMLOCK, most of it code
// guardian never runs, and their read-only data (libstdc++'s 444 KiB, where the VM's faults
// were) did not fit beside the rest in 8 MiB; locked by the page, what the loop uses fits.
struct SharedPagesPlan {
  std::vector<PageRun> runs;  // to lock (mlock2, flags 0: they are present), priority order
  uint64_t bytes = 0;         // sum over runs
  uint64_t wanted_bytes = 0;  // present and not yet locked, had the limit no say
  // Libraries (file names) with present pages that did not fit, and how many bytes of them.
  std::vector<std::string> left_out;
  uint64_t left_out_bytes = 0;
  // Whether any of it is the five libraries' code or read-only data (not only other libraries'
  // pages or headers): then the loop itself may fault on what was left out.
  bool left_out_tick_pages = false;
};
// `present`: the pages present in this process, sorted, disjoint (read_present_pages);
// `locked`: the runs an earlier plan locked (sorted, disjoint), not counted again; `room_bytes`:
// what RLIMIT_MEMLOCK still allows. By library: libc, libstdc++, libsystemd, libm, libgcc_s
// first (the ones a tick runs in), then the others in the maps' order, and last every library's
// headers and symbol tables (its read-only mapping at offset 0: the dynamic linker's, at start);
// a run that does not fit is left out and the next, smaller one may still fit. Pure.
SharedPagesPlan plan_shared_pages_lock(const std::vector<Mapping>& maps, std::string_view binary,
                                       const std::vector<PageRun>& present,
                                       const std::vector<PageRun>& locked, uint64_t room_bytes);

// Which pages of the mappings is_shared_readonly picks are present in this process, from
// /proc/self/pagemap (`pagemap_fd`, opened once; the present bit is readable unprivileged), as
// sorted runs. `buffer` is reused between scans.
Result<std::vector<PageRun>> read_present_pages(int pagemap_fd, const std::vector<Mapping>& maps,
                                                std::string_view binary, std::vector<uint64_t>& buffer);

// Runs as "start-end" hex lines (the fixture format of tests/fixtures/proc-maps/*.present, the
// same numbers as /proc/PID/maps); lines that do not read as one are skipped.
std::vector<PageRun> parse_page_runs(std::string_view text);

// Keeps the shared libraries' present pages locked: scans (read_present_pages) and locks what
// plan_shared_pages_lock picks within the limit. Not on the loop: the daemon calls it from a
// thread of its own, after warm-up and again now and then while there is no pressure (the
// working set a quiet loop grows into is learned, never searched for on the tick).
class SharedPagesLock {
 public:
  // `already_locked_bytes`: what the loop's lock (plan_loop_lock) counts against the limit.
  SharedPagesLock(std::string binary, uint64_t limit_bytes, uint64_t already_locked_bytes);
  struct Scan {
    uint64_t locked_now_bytes = 0;  // locked by this scan
    uint64_t locked_bytes = 0;      // by every scan so far
    std::vector<std::string> left_out;
    uint64_t left_out_bytes = 0;
    bool left_out_tick_pages = false;  // SharedPagesPlan::left_out_tick_pages
    uint64_t scanned_pages = 0;        // pagemap entries read
    std::string problem;               // "" when the scan and every lock went through
  };
  Scan scan_and_lock();

 private:
  std::string binary_;
  uint64_t limit_bytes_;
  uint64_t already_locked_bytes_;
  UniqueFd pagemap_;
  std::vector<uint64_t> buffer_;
  std::vector<PageRun> locked_;  // sorted, disjoint
  uint64_t locked_bytes_ = 0;
};

// For the MCL_FUTURE modes, before any thread starts: thread stacks and malloc arenas sized so
// that every later mapping fits the limit (a locked future mapping counts whole at mmap time).
void prepare_for_future_locking();

// Locks per `mode`. Never fails the daemon: a refusal is in the status, and it runs unlocked.
// LoopOnly locks what plan_loop_lock chose for the soft RLIMIT_MEMLOCK (a lower limit: a smaller
// lock, said in left_out; none only when not even the first part fits).
MemoryLockStatus lock_memory(MemoryLockMode mode, const void* loop_stack_address);

// The plan for this process now (its /proc/self/maps and executable) under `limit_bytes`: what
// `guardian doctor` reports for the daemon's limit (the daemon runs the same binary).
LoopLockPlan plan_own_loop_lock(const void* loop_stack_address, uint64_t limit_bytes);

// This process's maps and the pages of its shared objects' read-only mappings present now
// (read_present_pages), for `guardian doctor`: the daemon is the same binary with the same
// libraries, so what plan_shared_pages_lock would lock of them is estimated from here.
struct OwnSharedPages {
  std::vector<Mapping> maps;
  std::vector<PageRun> present;
  std::string binary;
};
Result<OwnSharedPages> read_own_shared_pages();

// This process's executable (/proc/self/exe), "" when the kernel does not say.
std::string own_executable();

// VmLck and VmRSS of this process from /proc/self/status, in bytes (for the measurement and
// `guardian doctor`); nullopt fields when the kernel does not say.
struct OwnMemory {
  uint64_t locked_bytes = 0;
  uint64_t rss_bytes = 0;
};
Result<OwnMemory> parse_proc_status_memory(std::string_view text);

}  // namespace guardian
