// When a failed apply is tried again (daemon/apply_retry.h): quickly at first, then every 30 s
// for as long as its level holds, never "not again".
#include "daemon/apply_retry.h"

#include <gtest/gtest.h>

namespace guardian {
namespace {

using std::chrono::seconds;

TEST(ApplyRetry, QuickAtFirstThenEveryThirtySecondsForAsLongAsTheLevelHolds) {
  EXPECT_EQ(apply_retry_wait(1), seconds(1));
  EXPECT_EQ(apply_retry_wait(2), seconds(2));
  EXPECT_EQ(apply_retry_wait(3), seconds(4));
  EXPECT_EQ(apply_retry_wait(4), seconds(8));
  EXPECT_EQ(apply_retry_wait(5), seconds(16));
  // The sixth failure no longer ends the retries (it did: Jellyfin answered again later).
  for (unsigned failed : {6u, 7u, 20u, 1000u}) EXPECT_EQ(apply_retry_wait(failed), seconds(30)) << failed;
}

TEST(ApplyRetry, TheNoteSaysWhenAndThatItGoesOn) {
  EXPECT_EQ(apply_retry_note(1), " (trying again in 1 s, 1 of 5, then every 30 s while this level holds)");
  EXPECT_EQ(apply_retry_note(5), " (trying again in 16 s, 5 of 5, then every 30 s while this level holds)");
  EXPECT_EQ(apply_retry_note(7), " (tried 7 times; again in 30 s while this level holds)");
}

}  // namespace
}  // namespace guardian
