// `guardian events` end to end: the recorded evening and morning of the incident machine
// (tests/fixtures/journal/incident.export: guardian's, systemd-oomd's, the managers' and the
// kernel's entries with their real field sets) is replayed into a real systemd-journald started by
// the test, with journald's clock set to each entry's recorded time (libfaketime), and the real
// binary reads it back. The tables and JSON lines must be exactly the expected ones
// (tests/fixtures/journal/expected/); reading the export file directly must give the same.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "review/journal_entry.h"
#include "support/fake_clock_journald.h"
#include "support/subprocess.h"

namespace guardian {
namespace {

using namespace std::chrono_literals;

const std::string kFixtures = std::string(GUARDIAN_FIXTURES_DIR) + "/journal";
// The morning after, 09:00 UTC: "yesterday" is 2025-11-25 00:00 UTC.
constexpr int64_t kMorningAfter = 1764147600LL * 1'000'000;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<review::JournalFields> recorded_entries() {
  auto parsed = review::parse_journal_export(read_text(kFixtures + "/incident.export"));
  EXPECT_EQ(parsed.error, "");
  return parsed.entries;
}

int64_t realtime(const review::JournalFields& fields) {
  return std::stoll(fields.at("__REALTIME_TIMESTAMP"));
}

std::vector<std::string> env_list(const std::map<std::string, std::string>& env) {
  std::vector<std::string> list;
  for (const auto& [name, value] : env) list.push_back(name + "=" + value);
  // Sanitizer runtimes want to come first; libfaketime is preloaded before them here.
  list.emplace_back("ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0");
  return list;
}

class EventsFromJournald : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto entries = recorded_entries();
    ASSERT_FALSE(entries.empty());
    journald_ = test::FakeClockJournald::start(realtime(entries.front()) - 60'000'000, &why_).release();
    if (!journald_) return;
    for (const auto& entry : entries) {
      std::map<std::string, std::string> fields(entry.begin(), entry.end());
      ASSERT_TRUE(journald_->send(fields, realtime(entry), &why_)) << why_;
    }
    journald_->set_clock(kMorningAfter);
  }
  static void TearDownTestSuite() {
    delete journald_;
    journald_ = nullptr;
  }
  void SetUp() override {
    if (!journald_) GTEST_SKIP() << why_;
  }
  // `guardian events --namespace NS ARGS…` with the journald's clock (09:00 the morning after), TZ=UTC.
  static test::RunResult events(std::vector<std::string> args) {
    std::vector<std::string> argv = {GUARDIAN_BINARY, "events", "--namespace", journald_->name_space()};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::run(argv, 30s, env_list(journald_->faked_env()));
  }
  static test::FakeClockJournald* journald_;
  static std::string why_;
};
test::FakeClockJournald* EventsFromJournald::journald_ = nullptr;
std::string EventsFromJournald::why_;

TEST_F(EventsFromJournald, SinceYesterdayIsTheWholeStoryAsATable) {
  auto result = events({"--since", "yesterday"});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, read_text(kFixtures + "/expected/since-yesterday.txt"));
}

TEST_F(EventsFromJournald, JsonLinesCarryEveryFigure) {
  auto result = events({"--since", "yesterday", "--json"});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, read_text(kFixtures + "/expected/since-yesterday.jsonl"));
}

TEST_F(EventsFromJournald, KillsInAWindowKnowWhatGuardianWasDoingBeforeIt) {
  // From 21:00: guardian's start (20:31) is before --since, read back from the journal.
  auto result = events({"--since", "2025-11-25 21:00", "--until", "2025-11-26 08:30", "--event", "oom-kill"});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, read_text(kFixtures + "/expected/kills-from-21h.txt"));
}

TEST_F(EventsFromJournald, UnitSelectsRowsByUnitOrCgroupComponent) {
  auto jellyfin = events({"--since", "-2d", "--unit", "jellyfin"});
  EXPECT_EQ(jellyfin.status, 0) << jellyfin.err;
  EXPECT_EQ(jellyfin.out, read_text(kFixtures + "/expected/unit-jellyfin.txt"));
  auto slice = events({"--since", "-2d", "--unit", "container.slice", "--event", "level-changed,oomd-kill"});
  EXPECT_EQ(slice.status, 0) << slice.err;
  EXPECT_EQ(slice.out, read_text(kFixtures + "/expected/unit-container-slice.txt"));
}

TEST_F(EventsFromJournald, FollowPrintsANewKillOnceItsSightingsAreIn) {
  std::vector<std::string> argv = {GUARDIAN_BINARY,         "events",   "--namespace",
                                   journald_->name_space(), "--follow", "--json"};
  test::Subprocess follow(argv, env_list(journald_->faked_env()));
  // Nothing old is printed; then oomd kills a GNOME terminal, its manager reports 9 processes.
  std::this_thread::sleep_for(1500ms);
  const std::string um = "/user.slice/user-1000.slice/user@1000.service";
  const int64_t kill_time = kMorningAfter + 5'000'000;
  std::string why;
  ASSERT_TRUE(journald_->send(
      {{"SYSLOG_IDENTIFIER", "systemd-oomd"},
       {"PRIORITY", "5"},
       {"MESSAGE", "Killed " + um +
                       "/app.slice/app-org.gnome.Terminal.slice/vte-spawn-1f2e.scope due to memory "
                       "pressure for " +
                       um + "/app.slice being 85.40% > 80.00% for > 20s with reclaim activity"}},
      kill_time, &why))
      << why;
  ASSERT_TRUE(
      journald_->send({{"MESSAGE_ID", "d989611b15e44c9dbf31e3c81256e4ed"},
                       {"USER_UNIT", "vte-spawn-1f2e.scope"},
                       {"N_PROCESSES", "9"},
                       {"PRIORITY", "5"},
                       {"SYSLOG_IDENTIFIER", "systemd"},
                       {"MESSAGE", "vte-spawn-1f2e.scope: systemd-oomd killed 9 process(es) in this unit."}},
                      kill_time + 90'000, &why))
      << why;
  // The row waits for the merge window (10 s of the journal's clock) before it is printed.
  journald_->set_clock(kill_time + 11'000'000);
  const std::string line = follow.wait_for("oomd-kill", 15s, /*from_stdout=*/true);
  ASSERT_FALSE(line.empty()) << "stdout: " << follow.stdout_text() << "\nstderr: " << follow.stderr_text();
  auto json = nlohmann::json::parse(line);
  EXPECT_EQ(json["unit"], "vte-spawn-1f2e.scope");
  EXPECT_EQ(json["full_avg10"], 85.4);
  EXPECT_EQ(json["kill"]["processes"], 9);
  EXPECT_EQ(json["kill"]["guardian_running"], false);  // it stopped at 07:58
  EXPECT_EQ(json["action"], "guardian not running");
  // Only the new kill: the recorded entries were before --follow started.
  EXPECT_EQ(std::count(follow.stdout_text().begin(), follow.stdout_text().end(), '\n'), 1)
      << follow.stdout_text();
  follow.signal(SIGTERM);
  follow.wait_exit(5s);
}

// The same expectations from the export file itself: no journald, no root needed.
TEST(EventsFromExport, SameTableAndJsonAsFromTheJournal) {
  const std::vector<std::string> env = {"TZ=UTC"};
  auto table =
      test::run({GUARDIAN_BINARY, "events", "--from-export", kFixtures + "/incident.export"}, 30s, env);
  EXPECT_EQ(table.status, 0) << table.err;
  EXPECT_EQ(table.out, read_text(kFixtures + "/expected/since-yesterday.txt"));
  auto json = test::run(
      {GUARDIAN_BINARY, "events", "--from-export", kFixtures + "/incident.export", "--json"}, 30s, env);
  EXPECT_EQ(json.out, read_text(kFixtures + "/expected/since-yesterday.jsonl"));
  auto window =
      test::run({GUARDIAN_BINARY, "events", "--from-export", kFixtures + "/incident.export", "--since",
                 "2025-11-25 21:00", "--until", "2025-11-26 08:30", "--event", "oom-kill"},
                30s, env);
  EXPECT_EQ(window.out, read_text(kFixtures + "/expected/kills-from-21h.txt"));
}

TEST(EventsCommand, BadArgumentsAreUsageErrorsThatSayWhy) {
  auto bad_time = test::run({GUARDIAN_BINARY, "events", "--since", "last tuesday"});
  EXPECT_EQ(bad_time.status, 2);
  EXPECT_NE(bad_time.err.find("--since: invalid time \"last tuesday\""), std::string::npos) << bad_time.err;
  auto bad_event = test::run({GUARDIAN_BINARY, "events", "--event", "oom-kills"});
  EXPECT_EQ(bad_event.status, 2);
  EXPECT_NE(bad_event.err.find("unknown event \"oom-kills\""), std::string::npos) << bad_event.err;
  auto missing = test::run({GUARDIAN_BINARY, "events", "--from-export", "/nonexistent/j.export"});
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("/nonexistent/j.export"), std::string::npos) << missing.err;
  auto two = test::run({GUARDIAN_BINARY, "events", "--namespace", "x", "--directory", "/tmp"});
  EXPECT_EQ(two.status, 2);
}

}  // namespace
}  // namespace guardian
