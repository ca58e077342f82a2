// Result<T>: a value or an error, so failures travel as values through the loop instead of as
// exceptions (the event loop must never unwind). An error carries its message and, when the
// system said no, the errno: "the cgroup vanished" (ENODEV, ENOENT) travels in the result instead
// of beside it. Taking the value of an error (or the error of a value) is a bug in the caller:
// it stops the process with both named, in every build, instead of throwing.
#pragma once

#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace guardian {

struct Error {
  std::string message;
  int code = 0;  // errno when a system call failed; 0 for every other error
};

inline Error make_error(std::string message, int code = 0) { return Error{std::move(message), code}; }
// "<what>: <strerror(code)>", keeping the code.
inline Error errno_error(const std::string& what, int code) {
  return Error{what + ": " + std::strerror(code), code};
}

namespace detail {
// Prints "guardian: bug: <what>: <error>" and aborts. Out of line and cold, so each value() stays
// a compare and a call.
[[noreturn]] __attribute__((cold, noinline)) void bad_result_access(const char* what, const Error* error);
}  // namespace detail

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return *checked_value(); }
  const T& value() const& { return *checked_value(); }
  T&& value() && { return std::move(*checked_value()); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  [[nodiscard]] const Error& error() const {
    const Error* error = std::get_if<1>(&state_);
    if (error == nullptr) [[unlikely]]
      detail::bad_result_access("the error of a result that holds a value", nullptr);
    return *error;
  }

 private:
  T* checked_value() {
    T* value = std::get_if<0>(&state_);
    if (value == nullptr) [[unlikely]]
      detail::bad_result_access("the value of a failed result", std::get_if<1>(&state_));
    return value;
  }
  const T* checked_value() const { return const_cast<Result*>(this)->checked_value(); }

  std::variant<T, Error> state_;
};

// Result<void>: success or an error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT(google-explicit-constructor)
  [[nodiscard]] bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  [[nodiscard]] const Error& error() const { return error_; }

 private:
  Error error_;
  bool failed_ = false;
};

}  // namespace guardian
