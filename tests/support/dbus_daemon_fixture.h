// A real dbus-daemon for tests: a private session bus on a unix socket in a fresh temporary
// directory, started on construction and killed on destruction (RAII). Nothing touches the
// user's or the system's bus.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "common/child.h"

namespace guardian::testing {

class DbusDaemonFixture {
 public:
  // Starts `dbus-daemon --session --nofork --print-address=FD --address=unix:path=DIR/bus` and
  // waits until it prints its address. On failure, ok() is false and error() says why.
  DbusDaemonFixture();
  ~DbusDaemonFixture();
  DbusDaemonFixture(const DbusDaemonFixture&) = delete;
  DbusDaemonFixture& operator=(const DbusDaemonFixture&) = delete;

  [[nodiscard]] bool ok() const { return child_.has_value() && !address_.empty(); }
  [[nodiscard]] const std::string& error() const { return error_; }
  // The address to connect to ("unix:path=/tmp/…/bus,guid=…").
  [[nodiscard]] const std::string& address() const { return address_; }
  [[nodiscard]] const std::string& directory() const { return directory_; }
  [[nodiscard]] pid_t pid() const { return child_ ? child_->pid() : -1; }

  // Kills the daemon now (tests of a bus that goes away). Idempotent.
  void stop();

 private:
  std::string directory_;
  std::string address_;
  std::string error_;
  std::optional<Child> child_;
};

}  // namespace guardian::testing
