// `guardian doctor`'s memory-lock finding (model/memory_lock_finding.h): the unit's
// LimitMEMLOCK= as systemd layers it, and whether the measured loop fits.
#include "model/memory_lock_finding.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace guardian {
namespace {

constexpr uint64_t MiB = 1024 * 1024;
constexpr uint64_t KiB = 1024;

std::string proc_maps_fixture(const std::string& name) {
  std::ifstream in(std::string(GUARDIAN_FIXTURES_DIR) + "/proc-maps/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Facts as doctor gathers them on a real host, from the recorded guardian after warm-up
// (tests/fixtures/proc-maps/guardian-warm.*: 5288 KiB of its shared objects' code and read-only
// data present) and the loop's parts of guardian-debian12.maps (4056 KiB).
MemoryLockFacts warm_facts(uint64_t soft) {
  MemoryLockFacts facts;
  facts.own = {soft, soft};
  facts.loop_parts = {{"the loop's stack", 104 * KiB},
                      {"guardian's code and data", 3328 * KiB},
                      {"sdbus-c++ and prometheus-cpp-core", 360 * KiB},
                      {"the heap", 264 * KiB}};
  facts.shared_maps = parse_proc_maps(proc_maps_fixture("guardian-warm.maps"));
  facts.shared_present = parse_page_runs(proc_maps_fixture("guardian-warm.present"));
  facts.binary = "/usr/local/bin/guardian";
  return facts;
}

std::string shipped_unit() {
  std::ifstream in(std::string(GUARDIAN_SOURCE_DIR) + "/units/guardian.service");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(MemoryLockFinding, TheShippedUnitAsksForEightMebibytes) {
  std::string where;
  auto limit = unit_memlock_limit({{"/usr/lib/systemd/user/guardian.service", shipped_unit()}}, &where);
  ASSERT_TRUE(limit.ok()) << limit.error().message;
  ASSERT_TRUE(limit->has_value());
  EXPECT_EQ(**limit, (MemlockLimit{8 * MiB, 8 * MiB}));
  EXPECT_EQ(where, "/usr/lib/systemd/user/guardian.service");
}

TEST(MemoryLockFinding, ADropInWinsAndAnEmptyAssignmentResets) {
  const std::vector<ConfigFile> lowered{
      {"/usr/lib/systemd/user/guardian.service", shipped_unit()},
      {"/etc/systemd/user/guardian.service.d/memlock.conf", "[Service]\nLimitMEMLOCK=4M:infinity\n"}};
  std::string where;
  auto limit = unit_memlock_limit(lowered, &where);
  ASSERT_TRUE(limit.ok());
  EXPECT_EQ(**limit, (MemlockLimit{4 * MiB, kUnlimited}));
  EXPECT_EQ(where, "/etc/systemd/user/guardian.service.d/memlock.conf");

  auto reset =
      unit_memlock_limit({{"/a.service", "LimitMEMLOCK=8M\n"}, {"/a.service.d/x.conf", "LimitMEMLOCK=\n"}});
  ASSERT_TRUE(reset.ok());
  EXPECT_FALSE(reset->has_value());
}

TEST(MemoryLockFinding, ABadValueNamesTheFileAndLine) {
  auto bad =
      unit_memlock_limit({{"/etc/systemd/user/guardian.service", "[Service]\n# lock\nLimitMEMLOCK=lots\n"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("/etc/systemd/user/guardian.service:3: LimitMEMLOCK=lots"),
            std::string::npos)
      << bad.error().message;
  auto inverted = unit_memlock_limit({{"/u.service", "LimitMEMLOCK=16M:8M\n"}});
  ASSERT_FALSE(inverted.ok());
  EXPECT_NE(inverted.error().message.find("soft limit is above the hard one"), std::string::npos);
}

// Debian 12 / Fedora: the user manager's default is 8 MiB; the loop's 6.2 MiB fit.
TEST(MemoryLockFinding, TheLoopFitsTheDefaultLimitAndTheDaemonHoldsIt) {
  MemoryLockFacts facts;
  facts.own = {8 * MiB, 8 * MiB};
  facts.unit = MemlockLimit{8 * MiB, 8 * MiB};
  facts.unit_file = "/usr/lib/systemd/user/guardian.service";
  facts.daemon = DaemonMemory{4242, 6501376, 9023488};  // VmLck 6349 kB, VmRSS 8812 kB
  const Finding finding = memory_lock_finding(facts);
  EXPECT_EQ(finding.verdict, Finding::Verdict::Ok) << finding.summary;
  EXPECT_EQ(finding.topic, "memory-lock");
  EXPECT_NE(finding.summary.find("fit RLIMIT_MEMLOCK 8.00 MiB"), std::string::npos) << finding.summary;
  EXPECT_NE(finding.detail.find("running daemon (pid 4242): VmLck 6.20 MiB"), std::string::npos)
      << finding.detail;
}

TEST(MemoryLockFinding, ALowerUnitLimitIsAWarningWithTheFix) {
  MemoryLockFacts facts;
  facts.own = {8 * MiB, 8 * MiB};
  facts.unit = MemlockLimit{4 * MiB, kUnlimited};
  facts.unit_file = "/etc/systemd/user/guardian.service.d/memlock.conf";
  const Finding finding = memory_lock_finding(facts);
  EXPECT_EQ(finding.verdict, Finding::Verdict::Warning);
  EXPECT_NE(finding.summary.find("do not fit RLIMIT_MEMLOCK 4.00 MiB"), std::string::npos) << finding.summary;
  EXPECT_NE(finding.next_step.find("LimitMEMLOCK=8M"), std::string::npos);
  EXPECT_NE(finding.detail.find("no running guardian daemon found"), std::string::npos);
}

// With the parts known (doctor reads its own maps: the daemon is the same binary), a lower limit
// is a smaller lock: the leading parts that fit, and the finding names what is left out.
TEST(MemoryLockFinding, ALowerLimitNamesTheSmallerLockAndWhatItLeavesOut) {
  MemoryLockFacts facts;
  facts.own = {8 * MiB, 8 * MiB};
  facts.unit = MemlockLimit{4 * MiB, 4 * MiB};
  facts.unit_file = "/etc/systemd/user/guardian.service.d/memlock.conf";
  // The sizes of tests/fixtures/proc-maps/guardian-debian12.maps.
  facts.loop_parts = {{"the loop's stack", 104 * 1024},
                      {"guardian's code and data", 3328 * 1024},
                      {"sdbus-c++ and prometheus-cpp-core", 360 * 1024},
                      {"the heap", 264 * 1024},
                      {"libc's code", 1368 * 1024},
                      {"libstdc++'s code", 1028 * 1024},
                      {"libsystemd's code", 508 * 1024},
                      {"libm's code", 464 * 1024},
                      {"libgcc_s's code", 92 * 1024}};
  const LoopLockFit fit = fit_loop_lock(facts, 4 * MiB);
  EXPECT_EQ(fit.locked_bytes, 3792u * 1024);
  EXPECT_EQ(fit.wanted_bytes, 7516u * 1024);
  EXPECT_EQ(fit.left_out.size(), 6u);
  const Finding finding = memory_lock_finding(facts);
  EXPECT_EQ(finding.verdict, Finding::Verdict::Warning);
  EXPECT_NE(
      finding.summary.find("RLIMIT_MEMLOCK 4.00 MiB holds 3.70 MiB of the loop's 7.34 MiB; guardian locks "
                           "that smaller set and leaves out the heap, libc's code, libstdc++'s code"),
      std::string::npos)
      << finding.summary;
  EXPECT_NE(finding.detail.find("guardian's code and data 3.25 MiB"), std::string::npos) << finding.detail;
  // 8 MiB holds it all.
  facts.unit = MemlockLimit{8 * MiB, 8 * MiB};
  EXPECT_EQ(memory_lock_finding(facts).verdict, Finding::Verdict::Ok);
  EXPECT_TRUE(fit_loop_lock(facts, 8 * MiB).left_out.empty());
}

TEST(MemoryLockFinding, WithoutAUnitThisProcesssLimitCounts) {
  MemoryLockFacts facts;
  facts.own = {64 * 1024, 64 * 1024};  // an old distribution's 64 KiB default
  EXPECT_EQ(memory_lock_finding(facts).verdict, Finding::Verdict::Warning);
  facts.own = {kUnlimited, kUnlimited};
  EXPECT_EQ(memory_lock_finding(facts).verdict, Finding::Verdict::Ok);
  EXPECT_NE(memory_lock_finding(facts).detail.find("no installed guardian.service found"), std::string::npos);
}

TEST(MemoryLockFinding, ARunningDaemonWithNothingLockedIsAWarning) {
  MemoryLockFacts facts;
  facts.own = {8 * MiB, 8 * MiB};
  facts.daemon = DaemonMemory{4242, 0, 9023488};
  const Finding finding = memory_lock_finding(facts);
  EXPECT_EQ(finding.verdict, Finding::Verdict::Warning);
  EXPECT_NE(finding.summary.find("locked nothing"), std::string::npos);
}

// The shared libraries' pages the daemon locks after five ticks, computed: 8 MiB less 256 KiB
// kept free and the loop's 4056 KiB leaves 3880 KiB; of the 5288 KiB in use, 3876 KiB fit (the
// five libraries a tick runs in first, as SharedPagesLock.UnderEightMebibytes… in
// tests/sense/self_watch_test.cpp), and only other libraries' pages and headers are left out.
TEST(MemoryLockFinding, DoctorSaysWhatOfTheSharedPagesFitsTheRoomTheLoopLeaves) {
  const MemoryLockFacts facts = warm_facts(8 * MiB);
  const auto shared = fit_shared_pages(facts, 8 * MiB);
  ASSERT_TRUE(shared.has_value());
  EXPECT_EQ(shared->room_bytes, 3880 * KiB);
  EXPECT_EQ(shared->present_bytes, 5288 * KiB);
  EXPECT_EQ(shared->locked_bytes, 3876 * KiB);
  EXPECT_EQ(shared->left_out_bytes, 1412 * KiB);
  EXPECT_FALSE(shared->left_out_tick_pages);
  const Finding finding = memory_lock_finding(facts);
  EXPECT_EQ(finding.verdict, Finding::Verdict::Ok) << finding.summary;
  EXPECT_NE(finding.summary.find("and 3.79 MiB of the shared libraries' 5.16 MiB in use after warm-up"),
            std::string::npos)
      << finding.summary;
  EXPECT_NE(
      finding.detail.find("5.16 MiB in use in this process (the same binary); RLIMIT_MEMLOCK 8.00 MiB "
                          "leaves 3.79 MiB for them after the loop's 3.96 MiB and 256.00 KiB kept free: "
                          "3.79 MiB locked, 1.38 MiB left out (libtomlplusplus.so.3.3.0"),
      std::string::npos)
      << finding.detail;
  EXPECT_NE(finding.detail.find("none a tick runs in"), std::string::npos) << finding.detail;
}

// A lower limit leaves less room than the five libraries' pages in use: a warning, as the daemon
// warns when it leaves them out, with the fix.
TEST(MemoryLockFinding, TooLittleRoomForTheTickLibrariesPagesIsAWarning) {
  MemoryLockFacts facts = warm_facts(8 * MiB);
  facts.unit = MemlockLimit{6 * MiB, 6 * MiB};
  facts.unit_file = "/etc/systemd/user/guardian.service.d/memlock.conf";
  const auto shared = fit_shared_pages(facts, 6 * MiB);
  ASSERT_TRUE(shared.has_value());
  EXPECT_EQ(shared->room_bytes, 1832 * KiB);  // 6144 - 256 - 4056
  EXPECT_LE(shared->locked_bytes, shared->room_bytes);
  EXPECT_GE(shared->locked_bytes, 1280 * KiB) << "libc's pages in use come first and fit";
  EXPECT_TRUE(shared->left_out_tick_pages);
  const Finding finding = memory_lock_finding(facts);
  EXPECT_EQ(finding.verdict, Finding::Verdict::Warning);
  EXPECT_NE(finding.summary.find("pages a tick runs in stay unlocked"), std::string::npos) << finding.summary;
  EXPECT_NE(finding.next_step.find("LimitMEMLOCK=8M"), std::string::npos);
  EXPECT_NE(finding.detail.find("among them pages a tick runs in"), std::string::npos) << finding.detail;
  // No limit: all of it.
  facts.unit = MemlockLimit{kUnlimited, kUnlimited};
  EXPECT_EQ(fit_shared_pages(facts, kUnlimited)->locked_bytes, 5288 * KiB);
  EXPECT_NE(memory_lock_finding(facts).detail.find("all locked (no limit)"), std::string::npos);
}

TEST(MemoryLockFinding, SharedPagesNotKnownAreSaidSo) {
  MemoryLockFacts facts;
  facts.own = {8 * MiB, 8 * MiB};
  EXPECT_FALSE(fit_shared_pages(facts, 8 * MiB).has_value());
  EXPECT_NE(memory_lock_finding(facts).detail.find("not estimated here (another host's tree)"),
            std::string::npos);
  facts.shared_problem = "/proc/self/pagemap: Permission denied";
  EXPECT_NE(
      memory_lock_finding(facts).detail.find("not estimated here (/proc/self/pagemap: Permission denied)"),
      std::string::npos);
}

}  // namespace
}  // namespace guardian
