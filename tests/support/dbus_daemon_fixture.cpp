#include "support/dbus_daemon_fixture.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "common/fd.h"

extern char** environ;

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
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 3);
  const std::string log_path = directory_ + "/dbus-daemon.log";
  posix_spawn_file_actions_addopen(&actions, 2, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  const std::string address_arg = "--address=unix:path=" + directory_ + "/bus";
  std::vector<std::string> args = {"dbus-daemon", "--session", "--nofork", "--print-address=3", address_arg};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int spawn_error = ::posix_spawnp(&pid, "dbus-daemon", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  write_end.reset();
  if (spawn_error != 0) {
    error_ = std::string("spawning dbus-daemon: ") + std::strerror(spawn_error);
    return;
  }
  pid_ = pid;

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
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  // dbus-daemon exits promptly on SIGTERM; SIGKILL after 2 s so a test never hangs here.
  for (int i = 0; i < 200; ++i) {
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_ || (done < 0 && errno == ECHILD)) {
      pid_ = -1;
      return;
    }
    ::usleep(10'000);
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

DbusDaemonFixture::~DbusDaemonFixture() {
  stop();
  if (!directory_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
}

}  // namespace guardian::testing
