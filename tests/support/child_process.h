// Runs a program (the real `guardian` binary) as a child with its own environment, collecting
// stdout and stderr, optionally driving a DaemonComponent while it runs, with a hard timeout.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/child.h"
#include "component/component.h"

namespace guardian::testing {

struct ChildResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  bool timed_out = false;
  std::string out;
  std::string err;
};

// env: variables to set (value) on top of the current environment; a variable mapped to the
// empty string is removed.
ChildResult run_child(const std::vector<std::string>& argv,
                      const std::map<std::string, std::string>& env = {}, DaemonComponent* pump = nullptr,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A long-running child (e.g. `guardian run`): started on construction, SIGTERM then SIGKILL on
// destruction or stop(); its stderr collects into a file.
class BackgroundChild {
 public:
  BackgroundChild(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                  const std::string& stderr_path);
  ~BackgroundChild();
  BackgroundChild(const BackgroundChild&) = delete;
  BackgroundChild& operator=(const BackgroundChild&) = delete;

  [[nodiscard]] bool started() const { return child_.has_value(); }
  // Still running? (Reaps it when it has exited and records the code.)
  bool running();
  [[nodiscard]] int exit_code() const { return exit_code_; }
  // SIGTERM, wait up to `grace`, then SIGKILL. Returns the exit code (-1 if killed by a signal).
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  std::optional<Child> child_;  // until it is reaped
  int exit_code_ = -1;
};

}  // namespace guardian::testing
