#include "jellyfin/circuit_breaker.h"

#include <algorithm>

namespace guardian::jellyfin {

bool CircuitBreaker::allow(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  switch (state_) {
    case State::Closed: return true;
    case State::HalfOpen: return false;  // the probe is out; wait for its answer
    case State::Open:
      if (now < retry_at_) return false;
      state_ = State::HalfOpen;
      return true;
  }
  return false;
}

void CircuitBreaker::record_success() {
  std::lock_guard lock(mutex_);
  state_ = State::Closed;
  failures_ = 0;
  current_open_for_ = settings_.open_for;
}

void CircuitBreaker::record_failure(Clock::time_point now, std::string why) {
  std::lock_guard lock(mutex_);
  last_error_ = std::move(why);
  ++failures_;
  if (state_ == State::HalfOpen) {
    // The probe failed: back off longer before the next one.
    current_open_for_ = std::min(current_open_for_ * 2, settings_.max_open_for);
    state_ = State::Open;
    retry_at_ = now + current_open_for_;
  } else if (state_ == State::Closed && failures_ >= settings_.failure_threshold) {
    state_ = State::Open;
    retry_at_ = now + current_open_for_;
  }
}

CircuitBreaker::State CircuitBreaker::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

std::string CircuitBreaker::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

unsigned CircuitBreaker::consecutive_failures() const {
  std::lock_guard lock(mutex_);
  return failures_;
}

CircuitBreaker::Clock::time_point CircuitBreaker::retry_at() const {
  std::lock_guard lock(mutex_);
  return retry_at_;
}

std::string_view breaker_state_name(CircuitBreaker::State state) {
  switch (state) {
    case CircuitBreaker::State::Closed: return "closed";
    case CircuitBreaker::State::Open: return "open";
    case CircuitBreaker::State::HalfOpen: return "half-open";
  }
  return "?";
}

}  // namespace guardian::jellyfin
