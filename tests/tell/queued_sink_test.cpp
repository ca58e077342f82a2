// Events reach the journal from a thread of their own (tell/queued_sink.h): a journal that does
// not read holds that thread, never the one that told the event.
#include "tell/queued_sink.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace guardian {
namespace {

// A sink that, while held, blocks in emit() as sd_journal_sendv() does on a full journald queue.
class HeldSink final : public EventSink {
 public:
  void emit(const Event& event) override {
    std::unique_lock lock(mutex_);
    ++entered_;
    changed_.notify_all();
    released_.wait(lock, [this] { return !held_; });
    messages_.push_back(event.message);
    changed_.notify_all();
  }
  void hold() {
    std::lock_guard lock(mutex_);
    held_ = true;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      held_ = false;
    }
    released_.notify_all();
  }
  void wait_entered(size_t count) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(10), [&] { return entered_ >= count; });
  }
  std::vector<std::string> wait_for(size_t count) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(10), [&] { return messages_.size() >= count; });
    return messages_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable released_;
  std::condition_variable changed_;
  bool held_ = false;
  size_t entered_ = 0;
  std::vector<std::string> messages_;
};

Event event(const std::string& message) {
  return Event{EventType::LevelChanged, Priority::Warning, message, {}};
}

TEST(QueuedSink, EmitReturnsWhileTheJournalDoesNotReadAndOrderIsKept) {
  HeldSink journal;
  journal.hold();
  QueuedSink sink;
  sink.start(&journal);
  // With the journal held, these would each wait in a direct write; queued, they all return.
  for (int i = 0; i < 20; ++i) sink.emit(event("level " + std::to_string(i)));
  journal.release();
  const auto messages = journal.wait_for(20);
  ASSERT_EQ(messages.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(messages[i], "level " + std::to_string(i));
  EXPECT_EQ(sink.dropped(), 0u);
}

TEST(QueuedSink, AFullQueueDropsTheOldestAndSaysHowMany) {
  HeldSink journal;
  journal.hold();
  QueuedSink sink(4);
  sink.start(&journal);
  sink.emit(event("first"));
  journal.wait_entered(1);  // the writer took it and waits in the held journal
  for (int i = 0; i < 10; ++i) sink.emit(event("e" + std::to_string(i)));
  journal.release();
  const auto messages = journal.wait_for(6);
  ASSERT_EQ(messages.size(), 6u);
  EXPECT_EQ(messages[0], "first");
  EXPECT_EQ(messages[1], "the journal did not keep up: 6 event(s) of guardian were dropped");
  EXPECT_EQ(messages[2], "e6");
  EXPECT_EQ(messages[5], "e9");
  EXPECT_EQ(sink.dropped(), 6u);
}

TEST(QueuedSink, StoppingSendsWhatIsQueued) {
  HeldSink journal;
  {
    QueuedSink sink;
    sink.start(&journal);
    for (int i = 0; i < 5; ++i) sink.emit(event(std::to_string(i)));
  }
  EXPECT_EQ(journal.wait_for(5).size(), 5u);
}

}  // namespace
}  // namespace guardian
