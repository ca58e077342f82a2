// `guardian doctor`'s memory-lock finding (issue 10): whether `guardian run --lock-memory=loop`
// (the default) can lock its working set here. The kernel counts a locked page against
// RLIMIT_MEMLOCK; the unit raises it with LimitMEMLOCK= (units/guardian.service), clamped by the
// user manager's hard limit. Pure: the facts are read in sense/ and by the CLI.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "model/findings.h"
#include "sense/self_watch.h"
#include "sense/systemd_config.h"

namespace guardian {

// The locked set of `--lock-memory=loop` with the default policy, measured with
// `tests/bench/measure_lock.sh build/guardian/guardian` (README "Benchmarks"); used when the
// parts are not known (doctor fills them from its own maps: the daemon runs the same binary).
inline constexpr uint64_t kMeasuredLoopLockBytes = 7692288;  // 7512 KiB

inline constexpr uint64_t kUnlimited = UINT64_MAX;  // RLIM_INFINITY / "infinity"

struct MemlockLimit {
  uint64_t soft = 0;  // kUnlimited = no limit
  uint64_t hard = 0;
  friend bool operator==(const MemlockLimit&, const MemlockLimit&) = default;
};

// LimitMEMLOCK= over a unit's fragments in the order systemd applies them (the last assignment
// wins; an empty one resets to the manager's default): nullopt when none sets it. A value is
// "SOFT[:HARD]", each bytes with systemd's K/M/G/T suffixes (1024-based) or "infinity"; one value
// sets both. An error names the file and the line. `where` receives the file that set it.
Result<std::optional<MemlockLimit>> unit_memlock_limit(const std::vector<ConfigFile>& fragments,
                                                       std::string* where = nullptr);

struct DaemonMemory {
  int pid = 0;
  uint64_t locked_bytes = 0;  // VmLck
  uint64_t rss_bytes = 0;     // VmRSS
};

struct MemoryLockFacts {
  MemlockLimit own;                    // this process's RLIMIT_MEMLOCK: what a `guardian run` from here gets
  std::optional<MemlockLimit> unit;    // LimitMEMLOCK= of the installed unit (nullopt: not set / none)
  std::string unit_file;               // the fragment that set it, or the unit file found; "" = none
  std::string unit_problem;            // a LimitMEMLOCK= that could not be read
  std::optional<DaemonMemory> daemon;  // the running daemon, from /proc/PID/status
  uint64_t loop_bytes = kMeasuredLoopLockBytes;
  // The parts of the loop's lock in priority order with their sizes (plan_loop_lock without a
  // limit); empty = one part of loop_bytes. A lower limit locks the leading parts that fit.
  std::vector<std::pair<std::string, uint64_t>> loop_parts;
  // The shared libraries' part, which the daemon locks page by page after five ticks
  // (daemon/shared_pages_keeper.h, plan_shared_pages_lock) in the room the loop's lock leaves:
  // doctor's own maps and present pages (the same binary and libraries). Empty maps: not known
  // (another host's tree, or /proc/self/pagemap could not be read: shared_problem says why).
  std::vector<Mapping> shared_maps;
  std::vector<PageRun> shared_present;
  std::string binary;
  std::string shared_problem;
};

// What of the loop's lock fits `soft` (the daemon's rule: the parts in order, each whole or not
// at all, within the limit less memlock_reserve).
struct LoopLockFit {
  uint64_t wanted_bytes = 0;
  uint64_t locked_bytes = 0;
  std::vector<std::string> left_out;
};
LoopLockFit fit_loop_lock(const MemoryLockFacts& facts, uint64_t soft);

// What of the shared libraries' present pages fits the room RLIMIT_MEMLOCK `soft` leaves after
// the loop's lock (fit_loop_lock) and memlock_reserve: the daemon's rule (SharedPagesLock).
struct SharedPagesFit {
  uint64_t room_bytes = 0;     // kUnlimited = no limit
  uint64_t present_bytes = 0;  // present in the shared objects' code and read-only data
  uint64_t locked_bytes = 0;
  std::vector<std::string> left_out;  // libraries, or "… headers"
  uint64_t left_out_bytes = 0;
  bool left_out_tick_pages = false;  // pages of libc, libstdc++, libsystemd, libm or libgcc_s left out
};
// nullopt when the shared pages are not known (facts.shared_maps empty).
std::optional<SharedPagesFit> fit_shared_pages(const MemoryLockFacts& facts, uint64_t soft);

// The soft limit the daemon runs under: the unit's when it sets one, else this process's.
uint64_t effective_memlock_soft(const MemoryLockFacts& facts);

// Ok: the loop fits (and a running daemon holds a lock); Warning: it does not fit, or the
// running daemon locked nothing; with what to change.
Finding memory_lock_finding(const MemoryLockFacts& facts);

}  // namespace guardian
