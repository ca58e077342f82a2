// The action path (act/action_runner): a dry run tells and runs nothing, every result becomes one
// event (the ladder's with their level, a component's with its own words and priorities), `done`
// runs after the event, and originals left by an earlier run are restored at start.
#include "act/action_runner.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "act/state_store.h"
#include "support/scratch_dir.h"

namespace guardian {
namespace {

using namespace std::chrono_literals;

// Counts its calls; answers with a fixed result.
class CountingAction final : public Action {
 public:
  CountingAction(std::string type, ActionResult result)
      : type_(std::move(type)), result_(std::move(result)) {}
  [[nodiscard]] const std::string& type() const override { return type_; }
  [[nodiscard]] std::string describe() const override {
    return "set MemoryHigh of container.slice to 6.00 GiB";
  }
  ActionResult apply(Deadline) override {
    ++applied;
    return result_;
  }
  ActionResult revert(Deadline) override {
    ++reverted;
    return {ActionResult::Outcome::Reverted, "MemoryHigh of container.slice restored to 8.00 GiB"};
  }
  std::atomic<int> applied{0};
  std::atomic<int> reverted{0};

 private:
  std::string type_;
  ActionResult result_;
};

std::string field(const Event& event, const std::string& name) {
  for (const auto& [key, value] : event.fields) {
    if (key == name) return value;
  }
  return "<absent>";
}

// Waits for the runner's fd like the loop, then collects.
void collect_when_ready(ActionRunner& runner) {
  pollfd pfd{runner.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 5000), 1);
  runner.finish();
}

TEST(ActionRunner, ADryRunTellsWhatWouldBeDoneAndRunsNothing) {
  ActionEnv env;
  env.dry_run = true;
  std::vector<Event> told;
  ActionRunner runner(env, [&](const Event& event) { told.push_back(event); });
  auto action = std::make_shared<CountingAction>(
      "slice.set-memory-high",
      ActionResult{ActionResult::Outcome::Applied, "MemoryHigh 8.00 GiB -> 6.00 GiB"});
  bool done = false;
  runner.submit({.action = action,
                 .label = "critical/slice.set-memory-high",
                 .level = "critical",
                 .done = [&](const ActionJobResult&) { done = true; }});
  runner.submit({.kind = ActionJob::Kind::Revert,
                 .action = action,
                 .label = "critical/slice.set-memory-high",
                 .level = "critical"});
  runner.finish();
  EXPECT_EQ(action->applied, 0);
  EXPECT_EQ(action->reverted, 0);
  EXPECT_FALSE(done);
  ASSERT_EQ(told.size(), 2u);
  EXPECT_EQ(told[0].type, EventType::ActionApplied);
  EXPECT_EQ(told[0].message, "dry run: would set MemoryHigh of container.slice to 6.00 GiB");
  EXPECT_EQ(field(told[0], "ACTION"), "slice.set-memory-high");
  EXPECT_EQ(field(told[0], "LEVEL"), "critical");
  EXPECT_EQ(field(told[0], "RESULT"), "dry-run");
  EXPECT_EQ(told[1].type, EventType::ActionReverted);
  EXPECT_EQ(told[1].message, "dry run: would revert set MemoryHigh of container.slice to 6.00 GiB");
}

TEST(ActionRunner, EachResultIsOneEventThenDoneRuns) {
  ActionEnv env;
  std::vector<Event> told;
  ActionRunner runner(env, [&](const Event& event) { told.push_back(event); });
  auto ladder = std::make_shared<CountingAction>(
      "slice.set-memory-high",
      ActionResult{ActionResult::Outcome::Applied, "MemoryHigh 8.00 GiB -> 6.00 GiB"});
  auto correction = std::make_shared<CountingAction>(
      "container-slice.correct",
      ActionResult{ActionResult::Outcome::Failed, "could not correct MemoryHigh of container.slice: denied"});
  size_t events_when_done = 0;
  runner.submit({.action = ladder, .label = "critical/slice.set-memory-high", .level = "critical"});
  runner.submit({.action = correction,
                 .timeout = 2s,
                 .failure_priority = Priority::Warning,
                 .done = [&](const ActionJobResult& result) {
                   events_when_done = told.size();
                   EXPECT_EQ(result.result.outcome, ActionResult::Outcome::Failed);
                 }});
  collect_when_ready(runner);
  EXPECT_EQ(ladder->applied, 1);
  ASSERT_EQ(told.size(), 2u);
  EXPECT_EQ(told[0].type, EventType::ActionApplied);
  EXPECT_EQ(told[0].priority, Priority::Notice);
  EXPECT_EQ(told[0].message, "critical/slice.set-memory-high applied: MemoryHigh 8.00 GiB -> 6.00 GiB");
  EXPECT_EQ(field(told[0], "LEVEL"), "critical");
  EXPECT_EQ(field(told[0], "RESULT"), "applied");
  EXPECT_NE(field(told[0], "DURATION_MS"), "<absent>");
  // A component's change: its own words, no level, its own priority.
  EXPECT_EQ(told[1].type, EventType::ActionFailed);
  EXPECT_EQ(told[1].priority, Priority::Warning);
  EXPECT_EQ(told[1].message, "could not correct MemoryHigh of container.slice: denied");
  EXPECT_EQ(field(told[1], "ACTION"), "container-slice.correct");
  EXPECT_EQ(field(told[1], "LEVEL"), "<absent>");
  EXPECT_EQ(events_when_done, 2u);  // done ran after its event was told
}

// A restorer kind for the test, and a state file an earlier run left behind.
TEST(ActionRunner, RestoresWhatAnEarlierRunSavedAndKeepsWhatItCannot) {
  test::ScratchDir dir("runner");
  const std::string path = dir / "state.json";
  {
    StateStore earlier(path);
    ASSERT_TRUE(earlier.load().ok());
    ASSERT_TRUE(earlier.save_original("test.value/a", "test.value", R"({"value":1})").ok());
    ASSERT_TRUE(earlier.save_original("test.value/broken", "test.value", R"({"value":"x"})").ok());
    ASSERT_TRUE(earlier.save_original("test.value/outside", "test.value", R"({"value":2})").ok());
    ASSERT_TRUE(earlier.save_original("gone.kind/b", "gone.kind", "{}").ok());
  }
  StateStore state(path);
  ActionEnv env;
  env.state = &state;
  std::vector<std::string> restored;
  ActionRegistry registry;
  registry.add_restorer(
      "test.value",
      [&](const ActionEnv& with, const std::string& key, const std::string& json, Deadline) -> Result<void> {
        EXPECT_EQ(with.state, &state);
        if (json.find("\"x\"") != std::string::npos) return make_error("not a number");
        restored.push_back(key);
        return {};
      },
      [](const Policy&, const std::string& key, const std::string&) -> Result<void> {
        if (key == "test.value/outside") return make_error("not a target the policy manages");
        return {};
      });
  std::vector<Event> told;
  ActionRunner runner(env, [&](const Event& event) { told.push_back(event); });
  runner.load_saved();
  EXPECT_TRUE(told.empty());
  runner.restore_saved(registry, Policy{});
  runner.finish();
  EXPECT_EQ(restored, std::vector<std::string>{"test.value/a"});
  EXPECT_FALSE(state.get("test.value/a").has_value());
  EXPECT_TRUE(state.get("test.value/broken").has_value());   // kept for the next try, and told
  EXPECT_TRUE(state.get("test.value/outside").has_value());  // never acted on, kept, and told
  EXPECT_TRUE(state.get("gone.kind/b").has_value());
  ASSERT_EQ(told.size(), 4u);
  std::map<std::string, std::string> results;
  for (const auto& event : told) {
    EXPECT_EQ(event.type, EventType::StateRestored);
    results[field(event, "KEY")] = field(event, "RESULT");
  }
  EXPECT_EQ(results["test.value/a"], "restored");
  EXPECT_EQ(results["test.value/broken"], "failed");
  EXPECT_EQ(results["test.value/outside"], "refused");
  EXPECT_EQ(results["gone.kind/b"], "unknown-kind");
}

// Issue 16, item 7: the restore at start blocked the loop, 2 s per entry for a server that never
// answered. It runs on the worker now, ahead of every action, with one deadline for all entries.
TEST(ActionRunner, TheRestoreRunsOnTheWorkerAheadOfActionsWithOneBudgetForAllEntries) {
  test::ScratchDir dir("runner");
  const std::string path = dir / "state.json";
  {
    StateStore earlier(path);
    for (int i = 0; i < 15; ++i)
      ASSERT_TRUE(earlier.save_original("test.value/" + std::to_string(i), "test.value", "{}").ok());
  }
  StateStore state(path);
  ActionEnv env;
  env.state = &state;
  std::mutex mutex;
  std::condition_variable released_cv;
  bool released = false;
  std::atomic<int> calls{0};
  ActionRegistry registry;
  // Like a server that never answers: each call holds until released or its deadline passes.
  registry.add_restorer(
      "test.value",
      [&](const ActionEnv&, const std::string&, const std::string&, Deadline deadline) -> Result<void> {
        ++calls;
        std::unique_lock lock(mutex);
        released_cv.wait_until(lock, deadline, [&] { return released; });
        return make_error("no answer");
      },
      [](const Policy&, const std::string&, const std::string&) -> Result<void> { return {}; });
  std::vector<Event> told;
  ActionRunner runner(env, [&](const Event& event) { told.push_back(event); });
  runner.load_saved();
  runner.restore_saved(registry, Policy{}, 1s);
  // restore_saved returned while the first restorer still waits: the loop is free.
  auto action = std::make_shared<CountingAction>("slice.set-memory-high", ActionResult{});
  runner.submit({.action = action, .label = "critical/slice.set-memory-high", .level = "critical"});
  EXPECT_EQ(action->applied, 0);
  runner.finish();
  EXPECT_EQ(action->applied, 1);  // ran after the restore, never beside it
  EXPECT_EQ(calls, 1) << "one deadline for all entries: the first used it up";
  std::map<std::string, int> results;
  for (const auto& event : told) {
    if (event.type == EventType::StateRestored) ++results[field(event, "RESULT")];
  }
  EXPECT_EQ(results["failed"], 1);
  EXPECT_EQ(results["deferred"], 14);
  EXPECT_EQ(state.entries().size(), 15u);  // all kept for the next start
  {
    std::lock_guard lock(mutex);
    released = true;
  }
}

}  // namespace
}  // namespace guardian
