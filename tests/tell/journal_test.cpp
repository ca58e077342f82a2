// Sends events through a real systemd-journald and reads them back with sd_journal.
#include "tell/journal.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "support/journald.h"

namespace guardian {
namespace {

TEST(JournalSink, StructuredEntryReachesTheJournal) {
  std::string why;
  auto* journald = test::Journald::instance(&why);
  if (!journald) GTEST_SKIP() << why;
  ASSERT_TRUE(journal_available());

  const std::string run =
      "journal-test-" + std::to_string(::getpid()) + "-" + std::to_string(::time(nullptr));
  Event event{EventType::LevelChanged, 4, "level normal -> elevated: full avg10 of app.slice 42.10 > 40", {}};
  event.with("LEVEL", "elevated").with("CGROUP", "app.slice").with("TEST_RUN", run);
  JournalSink().emit(event);

  auto entries = journald->read("GUARDIAN_TEST_RUN", run, 1);
  ASSERT_EQ(entries.size(), 1u);
  auto& entry = entries[0];
  EXPECT_EQ(entry["MESSAGE_ID"], message_id(EventType::LevelChanged));
  EXPECT_EQ(entry["MESSAGE"], event.message);
  EXPECT_EQ(entry["PRIORITY"], "4");
  EXPECT_EQ(entry["SYSLOG_IDENTIFIER"], "guardian");
  EXPECT_EQ(entry["GUARDIAN_EVENT"], "level-changed");
  EXPECT_EQ(entry["GUARDIAN_LEVEL"], "elevated");
  EXPECT_EQ(entry["GUARDIAN_CGROUP"], "app.slice");
}

}  // namespace
}  // namespace guardian
