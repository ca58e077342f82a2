// A circuit breaker for one Jellyfin instance. After `failure_threshold` failures in a row it
// opens: calls are refused locally (no socket, no wait) until `open_for` has passed; then one
// probe call is let through (half-open). Success closes it; another failure opens it again for
// twice as long, up to `max_open_for`. Like the leader-election fallback in seed 001: when the
// coordinator is gone, stop asking it and carry on with what can be seen locally (/proc).
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace guardian::jellyfin {

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  struct Settings {
    unsigned failure_threshold = 3;
    std::chrono::milliseconds open_for{30'000};
    std::chrono::milliseconds max_open_for{300'000};
    // While not closed, an action's request (allow_action) goes out at most this often: one
    // action waits on a Jellyfin that does not answer, the others fail at once and are retried
    // (in the VM's squeeze the stand-in did not answer for 3 minutes and six retrying actions,
    // each waiting its 6 s, kept the action worker busy the whole time: sqj-s24-fg2).
    std::chrono::milliseconds action_probe_every{10'000};
  };
  enum class State { Closed, Open, HalfOpen };
  // Why the last call failed, so what guardian says matches what happened: a server that
  // refuses the key or answers HTTP 500 is not "unreachable".
  enum class FailureKind { Unreachable, KeyRefused, HttpError, BadAnswer };

  explicit CircuitBreaker(Settings settings) : settings_(settings), current_open_for_(settings.open_for) {}

  // Whether a call may go out now. In Open state after the wait this admits exactly one caller
  // (the probe) and moves to HalfOpen; others are refused until it reports.
  bool allow(Clock::time_point now);
  // Whether an action's request may go out now: always while closed; while open or half-open,
  // once per `action_probe_every` (the ladder's actions are not held back for the breaker's whole
  // back-off, which grows to minutes; their answer closes it like a probe's).
  bool allow_action(Clock::time_point now);
  void record_success();
  void record_failure(Clock::time_point now, std::string why, FailureKind kind = FailureKind::Unreachable);

  [[nodiscard]] State state() const;
  [[nodiscard]] std::string last_error() const;
  [[nodiscard]] FailureKind last_failure_kind() const;
  [[nodiscard]] unsigned consecutive_failures() const;
  // When an open breaker lets the next probe through.
  [[nodiscard]] Clock::time_point retry_at() const;

 private:
  mutable std::mutex mutex_;
  Settings settings_;
  State state_ = State::Closed;
  unsigned failures_ = 0;
  std::chrono::milliseconds current_open_for_;
  Clock::time_point retry_at_{};
  std::optional<Clock::time_point> last_action_probe_;
  std::string last_error_;
  FailureKind last_kind_ = FailureKind::Unreachable;
};

std::string_view breaker_state_name(CircuitBreaker::State state);
// "unreachable", "refuses the API key", "answers with an HTTP error", "answers with something
// guardian cannot read": how the journal describes a breaker that opened.
std::string_view failure_kind_description(CircuitBreaker::FailureKind kind);

}  // namespace guardian::jellyfin
