// TripleBuffer (common/triple_buffer.h): the reader gets the newest published value whole, never
// one being written, and the writer's slot keeps its storage. The concurrent test is in
// scripts/test.sh's ThreadSanitizer list: a data race between the two sides fails it there.
#include "common/triple_buffer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace guardian {
namespace {

TEST(TripleBuffer, TheReaderTakesTheNewestPublishedValueOnlyOnce) {
  TripleBuffer<std::string> buffer;
  EXPECT_FALSE(buffer.take()) << "nothing published yet";
  buffer.back() = "first";
  buffer.publish();
  buffer.back() = "second";
  buffer.publish();
  ASSERT_TRUE(buffer.take());
  EXPECT_EQ(buffer.front(), "second") << "the newest, not the oldest";
  EXPECT_FALSE(buffer.take()) << "nothing newer";
  EXPECT_EQ(buffer.front(), "second");
  buffer.back() = "third";
  EXPECT_FALSE(buffer.take()) << "written but not published";
  buffer.publish();
  ASSERT_TRUE(buffer.take());
  EXPECT_EQ(buffer.front(), "third");
}

TEST(TripleBuffer, FillingEverySlotFirstMeansNoSlotComesRoundSmall) {
  TripleBuffer<std::string> buffer;
  const std::string long_text(200, 'x');
  buffer.fill_all_before_first_publish(long_text);
  buffer.publish();
  // Whatever slot the writer gets next, through any order of takes, already has the capacity.
  for (int i = 0; i < 6; ++i) {
    EXPECT_GE(buffer.back().capacity(), long_text.size()) << "round " << i;
    buffer.back().assign(long_text.size(), static_cast<char>('a' + i));
    buffer.publish();
    if (i % 2 == 0) buffer.take();
  }
}

// A writer publishes values whose every character says which value it is; a reader on another
// thread takes as fast as it can and checks that each value it sees is whole and newer than the
// last. A torn or stale read, or (under ThreadSanitizer) a race on a slot, fails.
TEST(TripleBuffer, ConcurrentReaderSeesOnlyWholeValuesInOrder) {
  TripleBuffer<std::vector<int>> buffer;
  constexpr int kValues = 20000;
  constexpr size_t kLength = 64;
  std::atomic<bool> done{false};
  int seen = -1, takes = 0;
  bool whole = true, in_order = true;
  std::thread reader([&] {
    for (;;) {
      // Read before the take: whatever was published before `done` is taken by this round.
      const bool finished = done.load();
      if (!buffer.take()) {
        if (finished) break;
        continue;
      }
      ++takes;
      const std::vector<int>& value = buffer.front();
      if (value.size() != kLength) {
        whole = false;
        continue;
      }
      for (int element : value) whole = whole && element == value[0];
      in_order = in_order && value[0] > seen;
      seen = value[0];
    }
  });
  for (int i = 0; i < kValues; ++i) {
    buffer.back().assign(kLength, i);
    buffer.publish();
  }
  done = true;
  reader.join();
  EXPECT_TRUE(whole);
  EXPECT_TRUE(in_order);
  EXPECT_GT(takes, 0);
  EXPECT_EQ(seen, kValues - 1) << "the reader ends on the newest value";
}

}  // namespace
}  // namespace guardian
