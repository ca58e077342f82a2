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
  MemoryLockStatus locked{MemoryLockMode::LoopOnly, true, 8u << 20, 5u << 20, "", {}, 0, false, 0, {}, 0, ""};
  EXPECT_EQ(locked.describe(), "locked (loop, " + format_bytes(5u << 20) +
                                   " counted against RLIMIT_MEMLOCK " + format_bytes(8u << 20) + ")");
  MemoryLockStatus refused{
      MemoryLockMode::LoopOnly, false, 64u << 10, 5u << 20, "needs 5 MiB", {}, 0, false, 0, {}, 0, ""};
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

const std::vector<std::string> kAllParts = {"the loop's stack", "guardian's code and data",
                                            "sdbus-c++ and prometheus-cpp-core", "the heap"};

TEST(LoopLock, UnderEightMebibytesEveryPartIsLockedAndOnlyGuardiansOwnPagesArePopulated) {
  const auto maps = fixture_maps();
  const auto plan = plan_loop_lock(maps, kBinary, kLoopStack, 8 * 1024 * KiB);
  EXPECT_TRUE(plan.left_out.empty()) << plan.left_out.size();
  ASSERT_EQ(names(plan.parts), kAllParts);
  // Sizes from the fixture (tests/fixtures/proc-maps/README.md).
  const std::vector<uint64_t> kib = {104, 3328, 360, 264};
  for (size_t i = 0; i < kib.size(); ++i) EXPECT_EQ(plan.parts[i].bytes, kib[i] * KiB) << plan.parts[i].name;
  EXPECT_EQ(plan.bytes, 4056 * KiB);
  EXPECT_EQ(plan.wanted_bytes, plan.bytes);
  EXPECT_LE(plan.bytes, 8 * 1024 * KiB - memlock_reserve(8 * 1024 * KiB));
  // The stack from 60 KiB below the loop's frame, not from the mapping's start (it grows unlocked).
  EXPECT_EQ(plan.parts[0].ranges.front().first, 0x7fff970b1000u);
  EXPECT_GT(plan.parts[0].ranges.front().first, 0x7fff970aa000u);
  // Populated: guardian's alone; on fault: the heap.
  for (size_t i = 0; i < plan.parts.size(); ++i)
    EXPECT_EQ(plan.parts[i].how, i < 3 ? LockHow::Populate : LockHow::OnFault) << plan.parts[i].name;
  // Every mapping of guardian and of the two libraries (data too).
  EXPECT_EQ(plan.parts[1].ranges.size(), 5u);
  EXPECT_EQ(plan.parts[2].ranges.size(), 10u);
  // Not in this lock: the shared libraries (by the page after warm-up, plan_shared_pages_lock),
  // libraries only start-up, reloads or other threads run (toml++, the journal's compressors and
  // crypto), the dynamic linker, threads' stacks and arenas.
  for (const auto& part : plan.parts)
    for (const auto& [start, end] : part.ranges)
      for (const auto& mapping : maps)
        if (mapping.start == start) {
          EXPECT_EQ(mapping.path.find("libtomlplusplus"), std::string::npos);
          EXPECT_EQ(mapping.path.find("libzstd"), std::string::npos);
          EXPECT_EQ(mapping.path.find("ld-linux"), std::string::npos);
          EXPECT_EQ(mapping.path.find("libc.so"), std::string::npos);
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
  EXPECT_EQ(plan.wanted_bytes, 4056 * KiB);
  // 3 MiB: guardian's own 3.25 MiB do not fit; a later, smaller part still does.
  plan = plan_loop_lock(maps, kBinary, kLoopStack, 3 * 1024 * KiB);
  EXPECT_EQ(names(plan.parts),
            (std::vector<std::string>{"the loop's stack", "sdbus-c++ and prometheus-cpp-core", "the heap"}));
  EXPECT_EQ(plan.bytes, 728 * KiB);
  // An old distribution's 64 KiB: nothing (the smallest part, the loop's stack's 104 KiB, is over it).
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
  MemoryLockStatus partly{MemoryLockMode::LoopOnly,
                          true,
                          4u << 20,
                          3440u << 10,
                          "",
                          {"the heap"},
                          264u << 10,
                          false,
                          0,
                          {},
                          0,
                          ""};
  EXPECT_EQ(partly.describe(), "partly locked (loop, " + format_bytes(3440u << 10) +
                                   " counted against RLIMIT_MEMLOCK " + format_bytes(4u << 20) +
                                   "); left out for the limit (" + format_bytes(264u << 10) + "): the heap");
}

// ---- the shared libraries' pages in use, after warm-up ---------------------------------------

std::string fixture_text(const std::string& name) {
  std::ifstream in(std::string(GUARDIAN_FIXTURES_DIR) + "/proc-maps/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The pages of `runs` that lie in `path`'s mappings.
uint64_t bytes_in(const std::vector<Mapping>& maps, const std::vector<PageRun>& runs, std::string_view path) {
  uint64_t bytes = 0;
  for (const auto& mapping : maps)
    if (mapping.path == path)
      for (const auto& run : runs)
        if (run.start < mapping.end && run.end > mapping.start)
          bytes += std::min(run.end, mapping.end) - std::max(run.start, mapping.start);
  return bytes;
}

constexpr std::string_view kLibc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
constexpr std::string_view kLibstdcxx = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30";

TEST(SharedPagesLock, ReadsThePresentPagesFixture) {
  const auto present = parse_page_runs(fixture_text("guardian-warm.present"));
  ASSERT_EQ(present.size(), 36u);
  EXPECT_EQ(present.front(), (PageRun{0x7fe17149e000, 0x7fe1714c5000}));
  EXPECT_TRUE(parse_page_runs("7f00-7e00\nnot a run\n7f01-7f02\n").empty()) << "empty or unaligned runs";
  const auto maps = parse_proc_maps(fixture_text("guardian-warm.maps"));
  ASSERT_EQ(maps.size(), 110u);
  EXPECT_EQ(maps[1].offset, 0x11000u);  // guardian's code, after its headers
}

// 8 MiB, less its reserve and the loop's own lock (4056 KiB for the debian12 maps): 3880 KiB. The
// present pages of the five libraries a tick runs in fit whole (3364 KiB), among them the page of
// libstdc++'s read-only data where every VM fault was (file offset 0x1a5000: std::from_chars's
// tables); then the other libraries' while they fit; the headers and symbol tables last.
TEST(SharedPagesLock, UnderEightMebibytesTheFiveLibrariesPagesInUseAreLockedAndTheHeadersLeftOut) {
  const auto maps = parse_proc_maps(fixture_text("guardian-warm.maps"));
  const auto present = parse_page_runs(fixture_text("guardian-warm.present"));
  const auto plan = plan_shared_pages_lock(maps, kBinary, present, {}, 3880 * KiB);
  EXPECT_EQ(plan.wanted_bytes, 5288 * KiB);
  EXPECT_EQ(plan.bytes, 3876 * KiB);
  EXPECT_EQ(plan.runs.size(), 41u);
  EXPECT_EQ(plan.left_out_bytes, 1412 * KiB);
  EXPECT_EQ(plan.bytes + plan.left_out_bytes, plan.wanted_bytes);
  EXPECT_FALSE(plan.left_out_tick_pages) << "only other libraries' pages and headers left out";
  ASSERT_FALSE(plan.left_out.empty());
  EXPECT_EQ(plan.left_out.front(), "libtomlplusplus.so.3.3.0");
  for (const auto& name : plan.left_out)
    for (std::string_view first : {"libc.so", "libstdc++.so", "libsystemd.so", "libm.so", "libgcc_s.so"})
      if (name.starts_with(first)) {
        EXPECT_TRUE(name.ends_with(" headers")) << name;
      }
  // libc's code first, and exactly present pages: nothing that was not touched.
  EXPECT_EQ(plan.runs.front().start, 0x7fe171744000u);
  EXPECT_EQ(bytes_in(maps, plan.runs, kLibc), 1280 * KiB);  // of its 1720 KiB of code and read-only data
  EXPECT_EQ(bytes_in(maps, plan.runs, kLibstdcxx), 1096 * KiB);
  uintptr_t rodata = 0;
  for (const auto& mapping : maps)
    if (mapping.path == kLibstdcxx && mapping.offset == 0x19a000) rodata = mapping.start;
  ASSERT_NE(rodata, 0u);
  const uintptr_t page = rodata + (0x1a5000 - 0x19a000);
  EXPECT_TRUE(std::any_of(plan.runs.begin(), plan.runs.end(),
                          [page](const PageRun& run) { return run.start <= page && page < run.end; }));
  for (const auto& run : plan.runs) {
    EXPECT_TRUE(std::any_of(present.begin(), present.end(),
                            [&run](const PageRun& p) { return p.start <= run.start && run.end <= p.end; }));
    for (const auto& mapping : maps)
      if (run.start >= mapping.start && run.start < mapping.end) {
        EXPECT_TRUE(is_shared_readonly(mapping, kBinary)) << mapping.path;
        EXPECT_LE(run.end, mapping.end) << "a run crosses into the next mapping";
        EXPECT_EQ(mapping.path.find("libsdbus-c++"), std::string::npos) << "locked whole by the loop's plan";
      }
  }
  // No limit: every present page.
  EXPECT_EQ(plan_shared_pages_lock(maps, kBinary, present, {}, UINT64_MAX).bytes, 5288 * KiB);
}

TEST(SharedPagesLock, ALowerLimitLocksLibcFirstAndSaysWhatItLeftOut) {
  const auto maps = parse_proc_maps(fixture_text("guardian-warm.maps"));
  const auto present = parse_page_runs(fixture_text("guardian-warm.present"));
  const auto plan = plan_shared_pages_lock(maps, kBinary, present, {}, 1280 * KiB);
  EXPECT_EQ(plan.bytes, 1280 * KiB);
  EXPECT_EQ(bytes_in(maps, plan.runs, kLibc), 1280 * KiB);
  EXPECT_EQ(plan.left_out.front(), "libstdc++.so.6.0.30");
  EXPECT_EQ(plan.left_out_bytes, 4008 * KiB);
  EXPECT_TRUE(plan.left_out_tick_pages);
  EXPECT_TRUE(plan_shared_pages_lock(maps, kBinary, present, {}, 0).runs.empty());
}

// A rescan locks only what became present since: what an earlier scan locked is not counted again.
TEST(SharedPagesLock, ARescanLocksOnlyNewlyPresentPages) {
  const auto maps = parse_proc_maps(fixture_text("guardian-warm.maps"));
  const auto present = parse_page_runs(fixture_text("guardian-warm.present"));
  const auto first = plan_shared_pages_lock(maps, kBinary, present, {}, UINT64_MAX);
  std::vector<PageRun> locked = first.runs;
  std::sort(locked.begin(), locked.end(),
            [](const PageRun& a, const PageRun& b) { return a.start < b.start; });
  EXPECT_TRUE(plan_shared_pages_lock(maps, kBinary, present, locked, UINT64_MAX).runs.empty());
  // A page of libstdc++'s code that was not present, touched since: just that page.
  uintptr_t page = 0;
  for (const auto& mapping : maps) {
    if (mapping.path != kLibstdcxx || !mapping.executable) continue;
    for (uintptr_t at = mapping.start; at < mapping.end && page == 0; at += 4096)
      if (std::none_of(present.begin(), present.end(),
                       [at](const PageRun& r) { return r.start <= at && at < r.end; }))
        page = at;
  }
  ASSERT_NE(page, 0u);
  std::vector<PageRun> later = present;
  later.push_back({page, page + 4096});
  std::sort(later.begin(), later.end(), [](const PageRun& a, const PageRun& b) { return a.start < b.start; });
  const auto again = plan_shared_pages_lock(maps, kBinary, later, locked, UINT64_MAX);
  ASSERT_EQ(again.runs.size(), 1u);
  EXPECT_EQ(again.runs[0], (PageRun{page, page + 4096}));
  EXPECT_EQ(again.wanted_bytes, 4096u);
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

// A real scan of this process under 1 MiB (below any usual hard limit): the present pages of
// its shared libraries locked as far as the limit allows, VmLck exactly that, what did not fit
// named; a second scan finds nothing new to lock that fits.
TEST(SharedPagesLock, AChildLocksItsPresentSharedPagesWithinTheLimit) {
  constexpr uint64_t kLimit = 1024 * KiB;
  const int code = in_child_with_memlock(kLimit, [](uint64_t limit_bytes) {
    SharedPagesLock lock(own_executable(), limit_bytes, 0);
    const SharedPagesLock::Scan first = lock.scan_and_lock();
    if (!first.problem.empty()) return 1;
    if (first.locked_bytes == 0 || first.locked_bytes > limit_bytes - memlock_reserve(limit_bytes)) return 2;
    if (own_vmlck() != first.locked_bytes) return 3;
    if (first.left_out.empty() || first.left_out_bytes == 0) return 4;  // this test binary's set is larger
    if (first.scanned_pages * 4096 < first.locked_bytes) return 5;
    const SharedPagesLock::Scan second = lock.scan_and_lock();
    if (own_vmlck() != second.locked_bytes || second.locked_bytes < first.locked_bytes) return 6;
    return 0;
  });
  EXPECT_EQ(code, 0) << "1 scan problem, 2 nothing locked or over the room, 3 VmLck differs, 4 nothing left "
                        "out, 5 scanned fewer pages than locked, 6 the rescan, 90 capset, 91 setrlimit";
}

}  // namespace
}  // namespace guardian
