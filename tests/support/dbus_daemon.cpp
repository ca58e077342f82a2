#include "support/dbus_daemon.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>

namespace guardian::test {

DbusDaemon::DbusDaemon() {
  char dir_template[] = "/tmp/guardian-dbus-XXXXXX";
  if (!::mkdtemp(dir_template)) {
    error_ = std::string("mkdtemp: ") + std::strerror(errno);
    return;
  }
  dir_ = dir_template;
  listen_ = "unix:path=" + dir_ + "/bus";
  spawn();
}

bool DbusDaemon::restart() {
  kill_now();
  ::unlink((dir_ + "/bus").c_str());
  error_.clear();
  address_.clear();
  return spawn();
}

bool DbusDaemon::spawn() {
  const std::string& listen = listen_;
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    error_ = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  // Its one warning as root ("Failed to set fd limit") is noise in test logs.
  auto started = Child::spawn(
      {.argv = {"dbus-daemon", "--session", "--nofork", "--print-address", "--address=" + listen},
       .search_path = true,
       .redirects = {{.child_fd = STDOUT_FILENO, .parent_fd = out[1]},
                     {.child_fd = STDERR_FILENO, .path = "/dev/null", .flags = O_WRONLY}}});
  ::close(out[1]);
  if (!started.ok()) {
    error_ = started.error().message;
    ::close(out[0]);
    return false;
  }
  child_.emplace(std::move(*started));
  // The daemon prints its address (with a guid) once it listens.
  std::string printed;
  pollfd ready{out[0], POLLIN, 0};
  while (printed.find('\n') == std::string::npos && ::poll(&ready, 1, 5000) > 0) {
    char buffer[512];
    const ssize_t got = ::read(out[0], buffer, sizeof buffer);
    if (got <= 0) break;
    printed.append(buffer, static_cast<size_t>(got));
  }
  ::close(out[0]);
  const auto newline = printed.find('\n');
  if (newline == std::string::npos) {
    error_ = "dbus-daemon printed no address";
    kill_now();
    return false;
  }
  address_ = printed.substr(0, newline);
  return true;
}

void DbusDaemon::kill_now() {
  if (child_) {
    child_->stop(std::chrono::seconds(5));
    child_.reset();
  }
}

DbusDaemon::~DbusDaemon() {
  kill_now();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

void DbusDaemon::stop_answering() const {
  if (child_) child_->kill(SIGSTOP);
}

void DbusDaemon::answer_again() const {
  if (child_) child_->kill(SIGCONT);
}

}  // namespace guardian::test
