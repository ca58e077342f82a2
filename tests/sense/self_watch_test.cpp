// guardian's view of itself: the lateness of its tick timer (from fake times: the clock is an
// argument), the VmLck/VmRSS reading of /proc/PID/status, and which mappings `--lock-memory=loop`
// locks how (from a real guardian's /proc/PID/maps, and in a child under a lowered
// RLIMIT_MEMLOCK).
#include "sense/self_watch.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

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
  MemoryLockStatus locked{MemoryLockMode::LoopOnly, true, 8u << 20, 5u << 20, "", {}, 0};
  EXPECT_EQ(locked.describe(), "locked (loop, " + format_bytes(5u << 20) +
                                   " counted against RLIMIT_MEMLOCK " + format_bytes(8u << 20) + ")");
  MemoryLockStatus refused{MemoryLockMode::LoopOnly, false, 64u << 10, 5u << 20, "needs 5 MiB", {}, 0};
  EXPECT_EQ(refused.describe(), "not locked (loop): needs 5 MiB");
}

// ---- --lock-memory=loop: the plan ------------------------------------------------------------

constexpr uint64_t KiB = 1024;

std::vector<Mapping> fixture_maps() {
  std::ifstream in(std::string(GUARDIAN_FIXTURES_DIR) + "/proc-maps/guardian-debian12.maps");
  std::stringstream text;
  text << in.rdbuf();
  return parse_proc_maps(text.str());
}
constexpr std::string_view kBinary = "/usr/local/bin/guardian";
constexpr uintptr_t kLoopStack = 0x7fff970c0800;  // inside the fixture's [stack]

std::vector<std::string> names(const std::vector<LockPart>& parts) {
  std::vector<std::string> out;
  for (const auto& part : parts) out.push_back(part.name);
  return out;
}

TEST(LoopLock, ReadsTheMapsOfARealGuardian) {
  const auto maps = fixture_maps();
  ASSERT_EQ(maps.size(), 109u);
  EXPECT_EQ(maps[0].start, 0x55ec170b4000u);
  EXPECT_EQ(maps[0].end, 0x55ec170c5000u);
  EXPECT_EQ(maps[0].path, kBinary);
  EXPECT_TRUE(maps[1].readable && maps[1].executable && !maps[1].writable);
  EXPECT_EQ(maps[5].path, "[heap]");
  EXPECT_EQ(maps[6].path, "");  // an anonymous mapping (a thread's malloc arena)
  EXPECT_EQ(parse_proc_maps("not a mapping\n7f00-7e00 r--p 0 0 0 /x\n").size(), 0u);
}

const std::vector<std::string> kAllParts = {"the loop's stack",
                                            "guardian's code and data",
                                            "sdbus-c++ and prometheus-cpp-core",
                                            "the heap",
                                            "libc's code",
                                            "libstdc++'s code",
                                            "libsystemd's code",
                                            "libm's code",
                                            "libgcc_s's code"};

TEST(LoopLock, UnderEightMebibytesEveryPartIsLockedAndOnlyGuardiansOwnPagesArePopulated) {
  const auto maps = fixture_maps();
  const auto plan = plan_loop_lock(maps, kBinary, kLoopStack, 8 * 1024 * KiB);
  EXPECT_TRUE(plan.left_out.empty()) << plan.left_out.size();
  ASSERT_EQ(names(plan.parts), kAllParts);
  // Sizes from the fixture (tests/fixtures/proc-maps/README.md).
  const std::vector<uint64_t> kib = {104, 3328, 360, 264, 1368, 1028, 508, 464, 92};
  for (size_t i = 0; i < kib.size(); ++i) EXPECT_EQ(plan.parts[i].bytes, kib[i] * KiB) << plan.parts[i].name;
  EXPECT_EQ(plan.bytes, 7516 * KiB);
  EXPECT_EQ(plan.wanted_bytes, plan.bytes);
  EXPECT_LE(plan.bytes, 8 * 1024 * KiB - memlock_reserve(8 * 1024 * KiB));
  // The stack from 60 KiB below the loop's frame, not from the mapping's start (it grows unlocked).
  EXPECT_EQ(plan.parts[0].ranges.front().first, 0x7fff970b1000u);
  EXPECT_GT(plan.parts[0].ranges.front().first, 0x7fff970aa000u);
  // Populated: guardian's alone; on fault: the heap and the shared libraries' code.
  for (size_t i = 0; i < plan.parts.size(); ++i)
    EXPECT_EQ(plan.parts[i].how, i < 3 ? LockHow::Populate : LockHow::OnFault) << plan.parts[i].name;
  // Every mapping of guardian and of the two libraries (data too), only the code of the shared ones.
  EXPECT_EQ(plan.parts[1].ranges.size(), 5u);
  EXPECT_EQ(plan.parts[2].ranges.size(), 10u);
  for (size_t i = 4; i < plan.parts.size(); ++i) {
    ASSERT_EQ(plan.parts[i].ranges.size(), 1u) << plan.parts[i].name;
    bool executable = false;
    for (const auto& mapping : maps)
      if (mapping.start == plan.parts[i].ranges[0].first) executable = mapping.executable;
    EXPECT_TRUE(executable) << plan.parts[i].name;
  }
  // Not in the lock: libraries only start-up, reloads or other threads run (toml++, the journal's
  // compressors and crypto), the dynamic linker, threads' stacks and arenas.
  for (const auto& part : plan.parts)
    for (const auto& [start, end] : part.ranges)
      for (const auto& mapping : maps)
        if (mapping.start == start) {
          EXPECT_EQ(mapping.path.find("libtomlplusplus"), std::string::npos);
          EXPECT_EQ(mapping.path.find("libzstd"), std::string::npos);
          EXPECT_EQ(mapping.path.find("ld-linux"), std::string::npos);
          EXPECT_FALSE(mapping.path.empty());
        }
}

TEST(LoopLock, ALowerLimitLocksTheLeadingPartsThatFitNotNothing) {
  const auto maps = fixture_maps();
  // 4 MiB less its 256 KiB reserve: the stack, guardian's own and sdbus-c++/prometheus-cpp-core.
  auto plan = plan_loop_lock(maps, kBinary, kLoopStack, 4 * 1024 * KiB);
  EXPECT_EQ(names(plan.parts), std::vector<std::string>(kAllParts.begin(), kAllParts.begin() + 3));
  EXPECT_EQ(plan.bytes, 3792 * KiB);
  EXPECT_EQ(names(plan.left_out), std::vector<std::string>(kAllParts.begin() + 3, kAllParts.end()));
  EXPECT_EQ(plan.wanted_bytes, 7516 * KiB);
  // 6 MiB: a later, smaller part still fits after one that did not (libm after libstdc++).
  plan = plan_loop_lock(maps, kBinary, kLoopStack, 6 * 1024 * KiB);
  EXPECT_EQ(names(plan.left_out),
            (std::vector<std::string>{"libstdc++'s code", "libsystemd's code", "libgcc_s's code"}));
  EXPECT_EQ(plan.bytes, 5888 * KiB);
  // 3 MiB: guardian's own 3.25 MiB do not fit; what does is still locked.
  plan = plan_loop_lock(maps, kBinary, kLoopStack, 3 * 1024 * KiB);
  EXPECT_EQ(names(plan.parts),
            (std::vector<std::string>{"the loop's stack", "sdbus-c++ and prometheus-cpp-core", "the heap",
                                      "libc's code", "libsystemd's code", "libgcc_s's code"}));
  // An old distribution's 64 KiB: nothing (the smallest part, libgcc_s's 92 KiB, is over it).
  plan = plan_loop_lock(maps, kBinary, kLoopStack, 64 * KiB);
  EXPECT_TRUE(plan.parts.empty());
  EXPECT_EQ(plan.left_out.size(), kAllParts.size());
  // No limit: everything, nothing kept in reserve.
  plan = plan_loop_lock(maps, kBinary, kLoopStack, UINT64_MAX);
  EXPECT_EQ(plan.parts.size(), kAllParts.size());
  EXPECT_EQ(memlock_reserve(UINT64_MAX), 0u);
  EXPECT_EQ(memlock_reserve(64 * KiB), 4 * KiB);
  EXPECT_EQ(memlock_reserve(8 * 1024 * KiB), 256 * KiB);
}

TEST(MemoryLockStatus, APartialLockSaysWhatItLeftOut) {
  MemoryLockStatus partly{
      MemoryLockMode::LoopOnly, true, 4u << 20, 3440u << 10, "", {"the heap"}, 264u << 10};
  EXPECT_EQ(partly.describe(), "partly locked (loop, " + format_bytes(3440u << 10) +
                                   " counted against RLIMIT_MEMLOCK " + format_bytes(4u << 20) +
                                   "); left out for the limit (" + format_bytes(264u << 10) + "): the heap");
}

// ---- --lock-memory=loop in a process: a child under a lowered RLIMIT_MEMLOCK ------------------

uint64_t own_vmlck() {
  std::ifstream in("/proc/self/status");
  std::stringstream text;
  text << in.rdbuf();
  auto memory = parse_proc_status_memory(text.str());
  return memory.ok() ? memory->locked_bytes : UINT64_MAX;
}

// Root's CAP_IPC_LOCK would let mlock ignore the limit: the child drops it from its effective set.
bool drop_ipc_lock() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  data[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
  return ::syscall(SYS_capset, &header, data) == 0;
}

// Runs `body` in a forked child with RLIMIT_MEMLOCK `limit`; the child's exit code is body's.
int in_child_with_memlock(uint64_t limit, int (*body)(uint64_t)) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    rlimit rl{limit, limit};
    if (::setrlimit(RLIMIT_MEMLOCK, &rl) != 0) ::_exit(91);  // above the hard limit without the right
    if (!drop_ipc_lock()) ::_exit(90);
    ::_exit(body(limit));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

// Every page of the ranges is resident (mincore).
bool resident(const std::vector<std::pair<uintptr_t, uintptr_t>>& ranges) {
  for (const auto& [start, end] : ranges) {
    std::vector<unsigned char> pages((end - start) / 4096);
    if (::mincore(reinterpret_cast<void*>(start), end - start, pages.data()) != 0) return false;
    for (unsigned char page : pages)
      if ((page & 1) == 0) return false;
  }
  return true;
}

// 4 MiB (below the usual 8 MiB hard limit, so no privilege is needed to set it): this test
// binary's own code alone is larger, so the lock is a smaller one, exactly the plan's parts.
TEST(LoopLock, UnderALoweredLimitAChildLocksThePlannedPartsAndPopulatesThem) {
  constexpr uint64_t kLimit = 4 * 1024 * KiB;
  rlimit own{};
  ASSERT_EQ(::getrlimit(RLIMIT_MEMLOCK, &own), 0);
  if (own.rlim_max != RLIM_INFINITY && own.rlim_max < kLimit)
    GTEST_SKIP() << "the hard RLIMIT_MEMLOCK " << own.rlim_max << " is below 4 MiB";
  const int code = in_child_with_memlock(kLimit, [](uint64_t limit_bytes) {
    int stack_here = 0;
    const LoopLockPlan plan = plan_own_loop_lock(&stack_here, limit_bytes);
    const MemoryLockStatus status = lock_memory(MemoryLockMode::LoopOnly, &stack_here);
    if (!status.locked) return 1;
    if (status.left_out.empty() || status.needed_bytes > limit_bytes - memlock_reserve(limit_bytes)) return 2;
    if (own_vmlck() != status.needed_bytes) return 3;
    if (status.describe().find("partly locked (loop, ") != 0) return 4;
    // (The heap may have grown between the plan here and the lock's own: compare by name.)
    auto left_out = [&status](const std::string& name) {
      return std::find(status.left_out.begin(), status.left_out.end(), name) != status.left_out.end();
    };
    if (!left_out("guardian's code and data")) return 6;
    for (const auto* parts : {&plan.parts, &plan.left_out})
      for (const auto& part : *parts) {
        if (part.how == LockHow::Populate && !left_out(part.name) && !resident(part.ranges)) return 7;
      }
    return 0;
  });
  EXPECT_EQ(code, 0) << "1 not locked, 2 nothing left out or over the room, 3 VmLck differs, 4 describe, "
                        "6 the binary's code fit, 7 a populated part not resident, "
                        "90 capset, 91 setrlimit";
  // 64 KiB: nothing fits, nothing locked, and it says why.
  const int none = in_child_with_memlock(64 * KiB, [](uint64_t) {
    int stack_here = 0;
    const MemoryLockStatus status = lock_memory(MemoryLockMode::LoopOnly, &stack_here);
    if (status.locked || own_vmlck() != 0) return 1;
    return status.describe().find("not locked (loop): nothing fits RLIMIT_MEMLOCK 64.00 KiB") == 0 ? 0 : 2;
  });
  EXPECT_EQ(none, 0);
}

}  // namespace
}  // namespace guardian
