#include "jellyfin/circuit_breaker.h"

#include <gtest/gtest.h>

namespace guardian::jellyfin {
namespace {

using namespace std::chrono_literals;

TEST(CircuitBreaker, OpensAfterThresholdProbesLaterAndBacksOff) {
  CircuitBreaker breaker({3, 30s, 100s});
  auto t0 = CircuitBreaker::Clock::time_point{} + 1000s;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(breaker.allow(t0));
    breaker.record_failure(t0, "refused");
  }
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::Closed);
  ASSERT_TRUE(breaker.allow(t0));
  breaker.record_failure(t0, "refused");
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::Open);
  EXPECT_FALSE(breaker.allow(t0 + 29s));
  // After the wait exactly one probe goes out.
  EXPECT_TRUE(breaker.allow(t0 + 30s));
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::HalfOpen);
  EXPECT_FALSE(breaker.allow(t0 + 30s));
  // The probe fails: open twice as long.
  breaker.record_failure(t0 + 30s, "still down");
  EXPECT_FALSE(breaker.allow(t0 + 89s));
  EXPECT_TRUE(breaker.allow(t0 + 90s));
  breaker.record_failure(t0 + 90s, "still down");  // 120 s capped at 100 s
  EXPECT_EQ(breaker.retry_at(), t0 + 190s);
  EXPECT_EQ(breaker.last_error(), "still down");
  // A good probe closes it and resets the backoff.
  EXPECT_TRUE(breaker.allow(t0 + 190s));
  breaker.record_success();
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::Closed);
  EXPECT_EQ(breaker.consecutive_failures(), 0u);
}

TEST(CircuitBreaker, AnActionGoesOutPastAnOpenBreakerOncePerItsInterval) {
  CircuitBreaker breaker({3, 30s, 100s, 10s});
  auto t0 = CircuitBreaker::Clock::time_point{} + 1000s;
  // Closed: every action's request goes out.
  EXPECT_TRUE(breaker.allow_action(t0));
  EXPECT_TRUE(breaker.allow_action(t0));
  for (int i = 0; i < 3; ++i) breaker.record_failure(t0, "no answer");
  ASSERT_EQ(breaker.state(), CircuitBreaker::State::Open);
  EXPECT_FALSE(breaker.allow(t0 + 1s));  // the watcher waits for the back-off
  EXPECT_TRUE(breaker.allow_action(t0 + 1s));
  EXPECT_FALSE(breaker.allow_action(t0 + 2s));  // the next action fails at once ...
  EXPECT_FALSE(breaker.allow_action(t0 + 10s));
  EXPECT_TRUE(breaker.allow_action(t0 + 11s));  // ... until the interval has passed
  breaker.record_failure(t0 + 11s, "still no answer");
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::Open);
  EXPECT_EQ(breaker.retry_at(), t0 + 30s) << "an action's failure does not lengthen the back-off";
  // Its answer closes the breaker, and everything goes out again.
  EXPECT_TRUE(breaker.allow_action(t0 + 21s));
  breaker.record_success();
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::Closed);
  EXPECT_TRUE(breaker.allow(t0 + 22s));
  EXPECT_TRUE(breaker.allow_action(t0 + 22s));
  EXPECT_TRUE(breaker.allow_action(t0 + 22s));
}

}  // namespace
}  // namespace guardian::jellyfin
