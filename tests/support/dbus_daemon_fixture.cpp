#include "support/dbus_daemon_fixture.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "common/child.h"
#include "common/fd.h"

namespace guardian::testing {

DbusDaemonFixture::DbusDaemonFixture() {
  char dir_template[] = "/tmp/guardian-dbus-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) {
    error_ = std::string("mkdtemp: ") + std::strerror(errno);
    return;
  }
  directory_ = dir_template;

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    error_ = std::string("pipe2: ") + std::strerror(errno);
    return;
  }
  UniqueFd read_end(pipe_fds[0]);
  // Above fd 3, so the dup2 onto 3 below always clears close-on-exec.
  UniqueFd write_end(::fcntl(pipe_fds[1], F_DUPFD_CLOEXEC, 10));
  ::close(pipe_fds[1]);

  // The child gets the pipe's write end as fd 3 and prints its address there; its own chatter
  // (e.g. "Failed to set fd limit") goes to a log file in the directory.
  const std::string log_path = directory_ + "/dbus-daemon.log";
  auto child =
      Child::spawn({.argv = {"dbus-daemon", "--session", "--nofork", "--print-address=3",
                             "--address=unix:path=" + directory_ + "/bus"},
                    .search_path = true,
                    .redirects = {{.child_fd = 3, .parent_fd = write_end.get()},
                                  {.child_fd = 2, .path = log_path, .flags = O_WRONLY | O_CREAT | O_TRUNC},
                                  {.child_fd = 1, .path = "/dev/null", .flags = O_WRONLY}}});
  write_end.reset();
  if (!child) {
    error_ = "spawning dbus-daemon: " + child.error().message;
    return;
  }
  child_.emplace(std::move(*child));

  // Read the address line (dbus-daemon prints it once the socket listens).
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (line.find('\n') == std::string::npos) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      error_ = "dbus-daemon printed no address within 10 s (log: " + log_path + ")";
      stop();
      return;
    }
    pollfd pfd{read_end.get(), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buffer[512];
    const ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
    if (n <= 0) {
      error_ = "dbus-daemon exited before printing its address (log: " + log_path + ")";
      stop();
      return;
    }
    line.append(buffer, static_cast<size_t>(n));
  }
  address_ = line.substr(0, line.find('\n'));
}

void DbusDaemonFixture::stop() {
  // dbus-daemon exits promptly on SIGTERM; SIGKILL after 2 s so a test never hangs here.
  if (child_) child_->stop(std::chrono::seconds(2));
  child_.reset();
}

DbusDaemonFixture::~DbusDaemonFixture() {
  stop();
  if (!directory_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
}

}  // namespace guardian::testing
