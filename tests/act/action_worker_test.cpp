#include "act/action_worker.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <thread>

#include "act/basic_actions.h"
#include "common/event.h"

namespace guardian {
namespace {

// Records calls in order; can be told to sleep to show the loop thread is not blocked.
class ScriptedAction final : public Action {
 public:
  ScriptedAction(std::string name, std::vector<std::string>* log, std::chrono::milliseconds delay = {})
      : name_(std::move(name)), log_(log), delay_(delay) {}
  [[nodiscard]] const std::string& type() const override { return name_; }
  [[nodiscard]] std::string describe() const override { return name_; }
  ActionResult apply(Deadline) override {
    std::this_thread::sleep_for(delay_);
    log_->push_back("apply " + name_);
    return {ActionResult::Outcome::Applied, {}};
  }
  ActionResult revert(Deadline) override {
    log_->push_back("revert " + name_);
    return {ActionResult::Outcome::Reverted, {}};
  }

 private:
  std::string name_;
  std::vector<std::string>* log_;
  std::chrono::milliseconds delay_;
};

TEST(ActionWorker, RunsJobsInOrderOffTheCallingThreadAndSignalsTheFd) {
  std::vector<std::string> log;
  ActionWorker worker;
  auto slow = std::make_shared<ScriptedAction>("a", &log, std::chrono::milliseconds(200));
  auto fast = std::make_shared<ScriptedAction>("b", &log);
  const auto before = std::chrono::steady_clock::now();
  worker.submit({ActionJob::Kind::Apply, slow, "l1/a"});
  worker.submit({ActionJob::Kind::Apply, fast, "l1/b"});
  worker.submit({ActionJob::Kind::Revert, fast, "l1/b"});
  // submit() returned at once although the first job sleeps 200 ms.
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(100));
  pollfd pfd{worker.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 5000), 1);
  worker.wait_idle();
  auto results = worker.drain();
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(log, (std::vector<std::string>{"apply a", "apply b", "revert b"}));
  EXPECT_EQ(results[0].result.outcome, ActionResult::Outcome::Applied);
  EXPECT_GE(results[0].took, std::chrono::milliseconds(200));
  EXPECT_EQ(results[2].result.outcome, ActionResult::Outcome::Reverted);
}

TEST(ActionWorker, OverrunningTheDeadlineIsReported) {
  std::vector<std::string> log;
  ActionWorker worker;
  auto slow = std::make_shared<ScriptedAction>("slow", &log, std::chrono::milliseconds(120));
  worker.submit({ActionJob::Kind::Apply, slow, "l/slow", std::chrono::milliseconds(20)});
  worker.wait_idle();
  auto results = worker.drain();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].result.outcome, ActionResult::Outcome::TimedOut);
}

struct Recorder : EventSink {
  std::vector<Event> events;
  void emit(const Event& event) override { events.push_back(event); }
};

TEST(BasicActions, LogAndNotifyTellTheJournalAndValidateArguments) {
  auto& registry = builtin_actions();
  ASSERT_TRUE(registry.find("log"));
  ASSERT_TRUE(registry.find("notify"));

  ActionSpec notify{"notify", {}, {"p.toml", 3, 5}};
  auto problems = registry.find("notify")->validate(notify);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].first.find("needs argument \"summary\""), std::string::npos);

  notify.params["summary"] = Param{std::string("Memory pressure high"), {}};
  notify.params["colour"] = Param{std::string("red"), {"p.toml", 3, 40}};
  problems = registry.find("notify")->validate(notify);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].first.find("no argument \"colour\""), std::string::npos);
  EXPECT_EQ(problems[0].second.column, 40u);
  notify.params.erase("colour");
  EXPECT_TRUE(registry.find("notify")->validate(notify).empty());

  EventTeller teller;
  Recorder recorder;
  teller.add_sink(&recorder);
  ActionEnv env;
  env.teller = &teller;
  auto action = registry.find("notify")->create(notify, env);
  ASSERT_TRUE(action.ok());
  EXPECT_EQ((*action)->apply({}).outcome, ActionResult::Outcome::Applied);
  EXPECT_EQ((*action)->revert({}).outcome, ActionResult::Outcome::Unchanged);
  ASSERT_EQ(recorder.events.size(), 1u);
  EXPECT_EQ(recorder.events[0].type, EventType::Notify);
  EXPECT_EQ(recorder.events[0].priority, 5);

  ActionSpec log{"log", {{"message", Param{std::string("rising"), {}}}}, {}};
  auto log_action = registry.find("log")->create(log, env);
  ASSERT_TRUE(log_action.ok());
  (*log_action)->apply({});
  (*log_action)->revert({});
  ASSERT_EQ(recorder.events.size(), 3u);
  EXPECT_EQ(recorder.events[1].message, "entered: rising");
  EXPECT_EQ(recorder.events[2].message, "left: rising");
}

}  // namespace
}  // namespace guardian
