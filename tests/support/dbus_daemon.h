// A private dbus-daemon for tests: `dbus-daemon --session --nofork --print-address
// --address=unix:path=<tmpdir>/bus`, started by the test and killed (only that pid) after.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "common/child.h"

namespace guardian::test {

class DbusDaemon {
 public:
  DbusDaemon();   // starts it; address() is empty when that failed (error() says why)
  ~DbusDaemon();  // SIGTERM to the daemon this object started, then waitpid
  DbusDaemon(const DbusDaemon&) = delete;
  DbusDaemon& operator=(const DbusDaemon&) = delete;

  // The address as the daemon printed it (with its guid).
  [[nodiscard]] const std::string& address() const { return address_; }
  // "unix:path=…" without a guid: clients that must reconnect to a restarted daemon use this.
  [[nodiscard]] const std::string& listen_address() const { return listen_; }
  // Starts a new daemon on the same socket path (after kill_now()).
  bool restart();
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] bool running() const { return child_.has_value(); }
  // Kills the daemon now (tests of a dead bus).
  void kill_now();
  // SIGSTOP / SIGCONT to the daemon (tests of a bus that stops answering, as one whose process
  // waits in reclaim does): its socket stays, nothing reads it.
  void stop_answering() const;
  void answer_again() const;

 private:
  std::optional<Child> child_;  // while it runs
  std::string dir_;
  bool spawn();
  std::string address_;
  std::string listen_;
  std::string error_;
};

}  // namespace guardian::test
