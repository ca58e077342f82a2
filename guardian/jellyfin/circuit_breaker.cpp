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

bool CircuitBreaker::allow_action(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (state_ == State::Closed) return true;
  if (last_action_probe_ && now - *last_action_probe_ < settings_.action_probe_every) return false;
  last_action_probe_ = now;
  return true;
}

void CircuitBreaker::record_success() {
  std::lock_guard lock(mutex_);
  state_ = State::Closed;
  failures_ = 0;
  current_open_for_ = settings_.open_for;
}

void CircuitBreaker::record_failure(Clock::time_point now, std::string why, FailureKind kind) {
  std::lock_guard lock(mutex_);
  last_error_ = std::move(why);
  last_kind_ = kind;
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

CircuitBreaker::FailureKind CircuitBreaker::last_failure_kind() const {
  std::lock_guard lock(mutex_);
  return last_kind_;
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

std::string_view failure_kind_description(CircuitBreaker::FailureKind kind) {
  switch (kind) {
    case CircuitBreaker::FailureKind::Unreachable: return "unreachable";
    case CircuitBreaker::FailureKind::KeyRefused: return "refuses guardian's API key";
    case CircuitBreaker::FailureKind::HttpError: return "answers with HTTP errors";
    case CircuitBreaker::FailureKind::BadAnswer: return "answers with something guardian cannot read";
  }
  return "failing";
}

}  // namespace guardian::jellyfin
