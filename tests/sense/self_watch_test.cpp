// guardian's view of itself: the lateness of its tick timer (from fake times: the clock is an
// argument) and the VmLck/VmRSS reading of /proc/PID/status.
#include "sense/self_watch.h"

#include <gtest/gtest.h>

#include "common/units.h"

namespace guardian {
namespace {

using namespace std::chrono_literals;

MonoTime at(std::chrono::milliseconds since) { return MonoTime{} + 1000s + since; }

TEST(TickLateness, AnExpiryReadOnTimeIsNotLate) {
  TickLateness lateness;
  lateness.arm(at(0ms), 1s);
  EXPECT_DOUBLE_EQ(lateness.on_expiry(at(1000ms), 1), 0.0);
  EXPECT_NEAR(lateness.on_expiry(at(2003ms), 1), 0.003, 1e-9);
  EXPECT_EQ(lateness.histogram().count, 2u);
  EXPECT_EQ(lateness.histogram().buckets[0], 2u);  // both <= 5 ms
}

TEST(TickLateness, AStalledLoopIsLateByTheEarliestExpiryItMissed) {
  TickLateness lateness;
  lateness.arm(at(0ms), 1s);
  ASSERT_DOUBLE_EQ(lateness.on_expiry(at(1000ms), 1), 0.0);
  // Blind from 1 s to 5.5 s: the expiries due at 2, 3, 4 and 5 s are read together at 5.5 s.
  EXPECT_NEAR(lateness.on_expiry(at(5500ms), 4), 3.5, 1e-9);
  EXPECT_NEAR(lateness.last_seconds(), 3.5, 1e-9);
  // The timer keeps its phase: the next is due at 6 s.
  EXPECT_NEAR(lateness.on_expiry(at(6010ms), 1), 0.010, 1e-9);
  const auto& histogram = lateness.histogram();
  EXPECT_EQ(histogram.count, 3u);
  EXPECT_NEAR(histogram.sum_seconds, 3.51, 1e-9);
  EXPECT_EQ(histogram.buckets[0], 1u);  // 0
  EXPECT_EQ(histogram.buckets[1], 1u);  // 10 ms: <= 0.01
  EXPECT_EQ(histogram.buckets[8], 1u);  // 3.5 s: in (2, 5]
}

TEST(TickLateness, TheWindowMaximumForgetsAfterAMinute) {
  TickLateness lateness;
  lateness.arm(at(0ms), 1s);
  lateness.on_expiry(at(3500ms), 3);  // due at 1 s: 2.5 s late
  EXPECT_NEAR(lateness.window_max_seconds(at(3500ms)), 2.5, 1e-9);
  for (int second = 4; second <= 40; ++second)
    lateness.on_expiry(at(std::chrono::milliseconds(second * 1000)), 1);
  EXPECT_NEAR(lateness.window_max_seconds(at(40s)), 2.5, 1e-9);
  for (int second = 41; second <= 70; ++second)
    lateness.on_expiry(at(std::chrono::milliseconds(second * 1000)), 1);
  EXPECT_DOUBLE_EQ(lateness.window_max_seconds(at(70s)), 0.0);
}

TEST(TickLateness, ReArmingRestartsThePhase) {
  TickLateness lateness;
  lateness.arm(at(0ms), 1s);
  lateness.arm(at(500ms), 100ms);  // a reloaded policy with another interval
  EXPECT_NEAR(lateness.on_expiry(at(650ms), 1), 0.05, 1e-9);
  TickLateness unarmed;
  EXPECT_DOUBLE_EQ(unarmed.on_expiry(at(5s), 1), 0.0);
  EXPECT_EQ(unarmed.histogram().count, 0u);
}

// Linux 6.1's /proc/PID/status, the lines around the two read (from this machine's guardian).
constexpr std::string_view kStatus =
    "Name:\tguardian\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t  312344 kB\nVmSize:\t  247904 kB\n"
    "VmLck:\t    5312 kB\nVmPin:\t       0 kB\nVmHWM:\t    9012 kB\nVmRSS:\t    8832 kB\n"
    "RssAnon:\t     620 kB\nThreads:\t6\n";

TEST(ProcStatus, ReadsLockedAndResidentBytes) {
  auto memory = parse_proc_status_memory(kStatus);
  ASSERT_TRUE(memory) << memory.error().message;
  EXPECT_EQ(memory->locked_bytes, 5312u * 1024);
  EXPECT_EQ(memory->rss_bytes, 8832u * 1024);
}

TEST(ProcStatus, GarbageIsAnErrorThatQuotesIt) {
  auto missing = parse_proc_status_memory("Name:\tguardian\n");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "no VmLck or VmRSS line");
  auto bad = parse_proc_status_memory("VmLck:\t 12 MB\nVmRSS:\t 1 kB\n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "expected a size in kB, got \"12 MB\"");
}

TEST(MemoryLockMode, NamesReadBack) {
  for (auto mode :
       {MemoryLockMode::None, MemoryLockMode::All, MemoryLockMode::AllOnFault, MemoryLockMode::LoopOnly}) {
    auto parsed = parse_memory_lock_mode(memory_lock_mode_name(mode));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, mode);
  }
  auto bad = parse_memory_lock_mode("everything");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "expected none, all, all-onfault or loop, got \"everything\"");
}

TEST(MemoryLockStatus, SaysWhatWasLockedOrWhyNot) {
  MemoryLockStatus locked{MemoryLockMode::LoopOnly, true, 8u << 20, 5u << 20, ""};
  EXPECT_EQ(locked.describe(), "locked (loop, " + format_bytes(5u << 20) +
                                   " counted against RLIMIT_MEMLOCK " + format_bytes(8u << 20) + ")");
  MemoryLockStatus refused{MemoryLockMode::LoopOnly, false, 64u << 10, 5u << 20, "needs 5 MiB"};
  EXPECT_EQ(refused.describe(), "not locked (loop): needs 5 MiB");
}

}  // namespace
}  // namespace guardian
