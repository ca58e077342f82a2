// Child: one child process, started with posix_spawn and reaped exactly once. Its standard fds
// (and others) are redirected as asked; wait(), try_wait() and stop() collect its exit, and the
// destructor SIGKILLs a child that still runs and reaps it, so an early return never leaves a
// zombie or a stray process. It only ever signals the process it started. For the probe's parent
// side and the tests' helpers.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace guardian {

class Child {
 public:
  // In the child, `child_fd` becomes a copy of the parent's `parent_fd` (dup2), or, with
  // parent_fd < 0, `path` opened with `flags` (mode 0600 when created).
  struct Redirect {
    int child_fd = -1;
    int parent_fd = -1;
    std::string path{};
    int flags = 0;
  };
  struct Spec {
    std::vector<std::string> argv{};  // argv[0]: a path, or with search_path a name looked up in PATH
    bool search_path = false;
    std::optional<std::vector<std::string>> env{};  // "NAME=value" each; nullopt: this process's own
    std::vector<Redirect> redirects{};
  };
  // How it ended: its exit code, or the signal that killed it.
  struct Exit {
    int code = -1;   // WEXITSTATUS; -1 when killed by a signal
    int signal = 0;  // WTERMSIG; 0 when it exited
    [[nodiscard]] bool exited_with(int expected) const { return signal == 0 && code == expected; }
  };

  // Errors name argv[0] and keep posix_spawn's errno.
  static Result<Child> spawn(const Spec& spec);

  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();  // SIGKILL and reap when still running

  [[nodiscard]] pid_t pid() const { return pid_; }
  // Sends `signal` while the child is not reaped yet (never to a reused pid).
  void kill(int signal) const;
  // Its exit, once reaped; nullopt while it runs (try_wait reaps it when it has exited).
  std::optional<Exit> try_wait();
  Exit wait();
  // SIGTERM, up to `grace` for it to exit, then SIGKILL.
  Exit stop(std::chrono::milliseconds grace);

 private:
  explicit Child(pid_t pid) : pid_(pid) {}
  void reap(int status);
  pid_t pid_ = -1;  // -1 once reaped (or moved from)
  Exit exit_;
};

}  // namespace guardian
