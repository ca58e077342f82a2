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

}  // namespace
}  // namespace guardian::jellyfin
