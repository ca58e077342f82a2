// Result<T>: a value or an error, so failures travel as values through the loop instead of as
// exceptions (the event loop must never unwind). An error carries its message and, when the
// system said no, the errno: "the cgroup vanished" (ENODEV, ENOENT) travels in the result instead
// of beside it. Taking the value of an error (or the error of a value) is a bug in the caller:
// it stops the process with both named, in every build, instead of throwing.
#pragma once

#include <cstring>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

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

// A value or an error in one union with a flag, rather than a std::variant: the sampler returns
// one per file it reads (5,000 a tick over 500 cgroups), and the variant's indexed destruction
// cost about 5 instructions a read more than this.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : ok_(true) { new (&value_) T(std::move(value)); }  // NOLINT(google-explicit-constructor)
  Result(Error error) : ok_(false) {                                  // NOLINT(google-explicit-constructor)
    new (&error_) Error(std::move(error));
  }
  Result(const Result& other) : ok_(other.ok_) { construct_from(other); }
  Result(Result&& other) noexcept(std::is_nothrow_move_constructible_v<T>) : ok_(other.ok_) {
    construct_from(std::move(other));
  }
  Result& operator=(const Result& other) {
    if (this != &other) {
      destroy();
      ok_ = other.ok_;
      construct_from(other);
    }
    return *this;
  }
  Result& operator=(Result&& other) noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (this != &other) {
      destroy();
      ok_ = other.ok_;
      construct_from(std::move(other));
    }
    return *this;
  }
  ~Result() { destroy(); }

  [[nodiscard]] bool ok() const { return ok_; }
  explicit operator bool() const { return ok(); }

  T& value() & { return checked_value(); }
  const T& value() const& { return const_cast<Result*>(this)->checked_value(); }
  T&& value() && { return std::move(checked_value()); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  [[nodiscard]] const Error& error() const {
    if (ok_) [[unlikely]]
      detail::bad_result_access("the error of a result that holds a value", nullptr);
    return error_;
  }

 private:
  T& checked_value() {
    if (!ok_) [[unlikely]]
      detail::bad_result_access("the value of a failed result", &error_);
    return value_;
  }
  template <class Other>
  void construct_from(Other&& other) {
    if (ok_)
      new (&value_) T(std::forward<Other>(other).value_);
    else
      new (&error_) Error(std::forward<Other>(other).error_);
  }
  void destroy() {
    if (ok_)
      value_.~T();
    else
      error_.~Error();
  }

  union {
    T value_;
    Error error_;
  };
  bool ok_;
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
