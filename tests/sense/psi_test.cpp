#include "sense/psi.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include "common/host_root.h"

#include "sense/fixture_support.h"
#include "sense/psi_trigger.h"

namespace guardian {
namespace {

using guardian::testing::fixture;
using guardian::testing::slurp;

TEST(ParsePsiLine, KernelFormat) {
  // Documentation/accounting/psi.rst prints averages as "%lu.%02lu" and total in µs.
  std::string_view kind;
  auto line = parse_psi_line("some avg10=9.80 avg60=6.12 avg300=2.40 total=91447012", kind);
  ASSERT_TRUE(line.ok()) << line.error().message;
  EXPECT_EQ(kind, "some");
  EXPECT_DOUBLE_EQ(line->avg10, 9.80);
  EXPECT_DOUBLE_EQ(line->avg60, 6.12);
  EXPECT_DOUBLE_EQ(line->avg300, 2.40);
  EXPECT_EQ(line->total_us, 91447012u);
  auto full = parse_psi_line("full avg10=100.00 avg60=0.00 avg300=0.00 total=18446744073709551615\n", kind);
  ASSERT_TRUE(full.ok()) << full.error().message;
  EXPECT_EQ(kind, "full");
  EXPECT_DOUBLE_EQ(full->avg10, 100.0);
  EXPECT_EQ(full->total_us, 18446744073709551615u);
}

TEST(ParsePsiLine, RejectsMalformedLinesNamingTheProblem) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "expected \"some\" or \"full\""},
      {"most avg10=0.00 avg60=0.00 avg300=0.00 total=0", "expected \"some\" or \"full\""},
      {"some avg10=0.00 avg300=0.00 avg60=0.00 total=0", "expected \"avg60=\""},
      {"some avg10=0.00 avg60=0.00 avg300=0.00", "expected \" total=\""},
      {"some avg10=-1.00 avg60=0.00 avg300=0.00 total=0", "avg10 is \"-1.00\""},
      {"some avg10=100.01 avg60=0.00 avg300=0.00 total=0", "avg10 is \"100.01\""},
      {"some avg10=abc avg60=0.00 avg300=0.00 total=0", "avg10 is \"abc\""},
      {"some avg10=0.00 avg60=0.00 avg300=0.00 total=-5", "total is \"-5\""},
      {"some avg10=0.00 avg60=0.00 avg300=0.00 total=18446744073709551616", "total is"},
      {"some avg10=0.00 avg60=0.00 avg300=0.00 total=0 extra", "unexpected text after total"},
      {"some  avg10=0.00 avg60=0.00 avg300=0.00 total=0", "expected \"avg10=\""},
      {"some avg10=0.00\tavg60=0.00 avg300=0.00 total=0", "avg10 is"},
  };
  for (const auto& [text, expected] : cases) {
    std::string_view kind;
    auto line = parse_psi_line(text, kind);
    ASSERT_FALSE(line.ok()) << text;
    EXPECT_NE(line.error().message.find(expected), std::string::npos)
        << "input: " << text << "\nmessage: " << line.error().message;
  }
}

TEST(ParsePsi, FixtureFileHasBothLines) {
  // The jellyfin container's memory.pressure in the Fedora fixture (values in its README).
  auto psi = parse_psi(slurp(fixture("fedora42-podman/proc/pressure/memory")));
  ASSERT_TRUE(psi.ok()) << psi.error().message;
  EXPECT_DOUBLE_EQ(psi->some.avg10, 1.23);
  EXPECT_DOUBLE_EQ(psi->full.avg10, 0.91);
  EXPECT_EQ(psi->full.total_us, 31022918u);
}

TEST(ParsePsi, MemoryNeedsBothLines) {
  auto only_some = parse_psi("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  ASSERT_FALSE(only_some.ok());
  EXPECT_NE(only_some.error().message.find("\"full\" is missing"), std::string::npos)
      << only_some.error().message;
  auto twice = parse_psi(
      "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nsome avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().message.find("line 2: second \"some\""), std::string::npos)
      << twice.error().message;
  auto blank_line = parse_psi(
      "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  ASSERT_FALSE(blank_line.ok());
  EXPECT_NE(blank_line.error().message.find("line 2"), std::string::npos) << blank_line.error().message;
  EXPECT_FALSE(parse_psi("").ok());
}

TEST(ParsePsi, ThisMachinesProcPressureMemory) {
  auto text = read_file("/proc/pressure/memory");
  if (!text) GTEST_SKIP() << "no PSI on this kernel: " << text.error().message;
  auto psi = parse_psi(*text);
  EXPECT_TRUE(psi.ok()) << psi.error().message << "\n" << *text;
}

TEST(PsiTriggerSpec, FormatsAsTheKernelExpects) {
  EXPECT_EQ(PsiTriggerSpec{}.to_string(), "some 150000 2000000");
  PsiTriggerSpec full{PsiTriggerSpec::Kind::Full, std::chrono::microseconds(100000), std::chrono::seconds(4)};
  EXPECT_EQ(full.to_string(), "full 100000 4000000");
}

// Real triggers on this machine's /proc/pressure/memory. Its root lacks CAP_SYS_RESOURCE (as an
// unprivileged user would), so a 2 s window is accepted and a 1 s window is refused with EINVAL.
TEST(PsiTrigger, ArmsARealTriggerWithATwoSecondWindow) {
  if (::access("/proc/pressure/memory", W_OK) != 0)
    GTEST_SKIP() << "/proc/pressure/memory is not writable here";
  auto trigger = PsiTrigger::arm("/proc/pressure/memory", PsiTriggerSpec{});
  ASSERT_TRUE(trigger.ok()) << trigger.error().message;
  EXPECT_EQ(trigger->path(), "/proc/pressure/memory");
  // Without a trigger the kernel answers poll() at once with POLLERR; with one armed, poll waits
  // for POLLPRI. psi.rst warns of one event right after arming; kernels since the rtpoll rework
  // (6.x) may not send it, so either outcome is fine, but never an error. Real pressure is not
  // needed for this test.
  auto fired = trigger->wait_for_event(std::chrono::milliseconds(2500));
  ASSERT_TRUE(fired.ok()) << fired.error().message;
  if (*fired) {
    RecordProperty("spurious_event_after_arming", "yes");
  } else {
    RecordProperty("spurious_event_after_arming", "no");
  }
  // The fd holds the trigger: a second one on the same fd is refused with EBUSY.
  const std::string again = "some 150000 2000000";
  EXPECT_EQ(::write(trigger->fd(), again.c_str(), again.size() + 1), -1);
  EXPECT_EQ(errno, EBUSY);
}

TEST(PsiTrigger, OneSecondWindowIsRefusedWithAClearMessage) {
  if (::access("/proc/pressure/memory", W_OK) != 0)
    GTEST_SKIP() << "/proc/pressure/memory is not writable here";
  PsiTriggerSpec spec;
  spec.window = std::chrono::seconds(1);
  auto trigger = PsiTrigger::arm("/proc/pressure/memory", spec);
  if (trigger.ok()) GTEST_SKIP() << "this process has CAP_SYS_RESOURCE: 1 s windows are allowed";
  const std::string& message = trigger.error().message;
  EXPECT_NE(message.find("/proc/pressure/memory"), std::string::npos) << message;
  EXPECT_NE(message.find("some 150000 1000000"), std::string::npos) << message;
  EXPECT_NE(message.find("Invalid argument"), std::string::npos) << message;
  EXPECT_NE(message.find("multiple of 2 s"), std::string::npos) << message;
}

TEST(PsiTrigger, MissingFileNamesThePath) {
  auto trigger = PsiTrigger::arm("/proc/pressure/no-such-resource", PsiTriggerSpec{});
  ASSERT_FALSE(trigger.ok());
  EXPECT_NE(trigger.error().message.find("/proc/pressure/no-such-resource"), std::string::npos);
  EXPECT_NE(trigger.error().message.find("No such file"), std::string::npos) << trigger.error().message;
}

}  // namespace
}  // namespace guardian

namespace guardian {
namespace {

// A trigger written into a fixture file would overwrite its first bytes: arm() must refuse
// anything that is not on procfs or cgroup2, and leave the file as it was.
TEST(PsiTrigger, RefusesAFileOutsideProcfsAndCgroupfs) {
  const std::string path = ::testing::TempDir() + "psi-trigger-fixture-" + std::to_string(::getpid());
  const std::string content = "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(content.c_str(), f);
    std::fclose(f);
  }
  auto trigger = PsiTrigger::arm(path, PsiTriggerSpec{});
  ASSERT_FALSE(trigger.ok());
  EXPECT_NE(trigger.error().message.find("not on procfs or cgroup2"), std::string::npos) << trigger.error().message;
  auto after = read_file(path);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, content);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace guardian
