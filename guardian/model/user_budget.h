// The user's memory budget and how fast it is being used up: the approach to exhaustion, read
// before memory pressure shows. Pure: snapshots in, a plain value out.
//
// PSI only rises once reclaim already stalls tasks; with oomd's 10-20 s duration that leaves
// about 20 s of warning on a fast ramp. The approach shows earlier: in the Debian 12 VM
// (tests/vm, sqg-proto-1, seconds relative to the user reaching its budget) memory.current of
// user@UID.service passed 80% of its limit at -5..-12 s and "reaches its limit within 60 s at its
// 5-s slope" held at -24..-38 s, while pgscan > 1024 pages/s came at -5..0 s, file refaults
// > 256 pages/s at +2..+3 s, pressure onset (full >= 20%) at +1 s, and oomd's kill at about +35 s.
//
// The budget: `used` is memory.current of the user manager (the whole machine's MemTotal -
// MemAvailable without one). Its limit is the smallest of memory.high / memory.max of the user
// manager and its ancestors, else MemTotal. The room left is the smaller of limit - used and
// MemAvailable (a user with no limit of its own still runs out when the machine does).
// seconds_to_exhaustion = room / slope, the slope a Theil-Sen estimate (the median of the
// pairwise slopes) over the last `window` of samples: one reading thrown off by a burst of
// page cache reclaim or a trigger wake-up moves it little, unlike a two-point difference.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "sense/snapshot.h"

namespace guardian {

struct UserBudget {
  enum class LimitSource { None, UserManagerHigh, UserManagerMax, Ancestor, MemTotal };
  bool known = false;  // false until a snapshot had the values
  uint64_t used_bytes = 0;
  uint64_t limit_bytes = 0;
  LimitSource limit_source = LimitSource::None;
  uint64_t mem_available_bytes = 0;
  uint64_t room_bytes = 0;  // min(limit - used, MemAvailable)
  double used_percent = 0;  // used / (used + room), percent
  // Growth of `used` over the window (bytes/s); nullopt until the window holds enough samples.
  std::optional<double> slope_bytes_per_second;
  // room / slope when used grows; +inf when it does not (or no slope yet).
  double seconds_to_exhaustion = std::numeric_limits<double>::infinity();
  // The user manager's memory.stat counters over the window, pages per second.
  std::optional<double> pgscan_per_second;
  std::optional<double> refault_file_per_second;
};

std::string_view limit_source_name(UserBudget::LimitSource source);

// One line for the journal and `guardian status`: "1.6 GiB of 2.0 GiB (82%, memory.max of an
// ancestor), +12.0 MiB/s, exhausted in ~34 s".
std::string describe_budget(const UserBudget& budget);
// The same appended to `out` (a string kept between ticks: no allocation once it is large enough).
void append_budget_description(std::string& out, const UserBudget& budget);

class UserBudgetModel {
 public:
  // The slope's window (the policy's [approach] window).
  void set_window(std::chrono::microseconds window) { window_ = window; }

  // One tick's snapshot; `user_manager_path` empty = the whole machine. No allocation.
  void observe(const Snapshot& snapshot, std::string_view user_manager_path);

  [[nodiscard]] const UserBudget& budget() const { return budget_; }

 private:
  struct Point {
    MonoTime at{};
    double used = 0;
    uint64_t pgscan = 0;
    uint64_t refault_file = 0;
    bool has_stat = false;
  };
  static constexpr size_t kPoints = 32;
  std::array<Point, kPoints> points_{};  // a ring: the newest at (head_ + count_ - 1) % kPoints
  size_t head_ = 0;
  size_t count_ = 0;
  std::array<double, kPoints*(kPoints - 1) / 2> slopes_{};  // scratch for the median
  std::chrono::microseconds window_{5'000'000};
  UserBudget budget_;
};

}  // namespace guardian
