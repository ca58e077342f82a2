// Runs a real program (usually the guardian binary) for a test: its stdout and stderr are
// captured through pipes, lines can be awaited with a timeout, signals sent, exit collected.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/child.h"

namespace guardian::test {

class Subprocess {
 public:
  // argv[0] is the program path. `env` entries ("NAME=value") are added to the environment.
  explicit Subprocess(std::vector<std::string> argv, std::vector<std::string> env = {});
  ~Subprocess();  // SIGKILL + reap if still running
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  [[nodiscard]] pid_t pid() const { return child_ ? child_->pid() : -1; }
  // Waits until a line of stderr (or stdout) containing `needle` appears; returns it, or ""
  // on timeout / exit. Lines seen so far stay available in output().
  std::string wait_for(const std::string& needle, std::chrono::milliseconds timeout,
                       bool from_stdout = false);
  void signal(int sig) const;
  // Waits for exit; returns the exit status (or 128+signal), -1 on timeout.
  int wait_exit(std::chrono::milliseconds timeout);
  [[nodiscard]] const std::string& stderr_text() const { return err_; }
  [[nodiscard]] const std::string& stdout_text() const { return out_; }

 private:
  void pump(std::chrono::milliseconds budget);
  std::optional<Child> child_;  // empty when it could not start
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  size_t out_scanned_ = 0;
  size_t err_scanned_ = 0;
  int status_ = -1;
};

// Runs to completion (with a timeout), returning exit status and outputs.
struct RunResult {
  int status = -1;
  std::string out;
  std::string err;
};
RunResult run(std::vector<std::string> argv, std::chrono::milliseconds timeout = std::chrono::seconds(30),
              std::vector<std::string> env = {});

}  // namespace guardian::test
