// `guardian doctor`'s memory-lock finding (model/memory_lock_finding.h): the unit's
// LimitMEMLOCK= as systemd layers it, and whether the measured loop fits.
#include "model/memory_lock_finding.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace guardian {
namespace {

constexpr uint64_t MiB = 1024 * 1024;

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

}  // namespace
}  // namespace guardian
