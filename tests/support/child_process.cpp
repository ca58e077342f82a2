#include "support/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/child.h"
#include "common/fd.h"

extern char** environ;

namespace guardian::testing {

namespace {

std::vector<std::string> make_environment(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> out;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string text = *entry;
    const std::string name = text.substr(0, text.find('='));
    if (overrides.count(name) == 0) out.push_back(std::move(text));
  }
  for (const auto& [name, value] : overrides) {
    if (!value.empty()) out.push_back(name + "=" + value);
  }
  return out;
}

}  // namespace

ChildResult run_child(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                      DaemonComponent* pump, std::chrono::milliseconds timeout) {
  ChildResult result;
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.err = std::string("pipe2: ") + std::strerror(errno);
    return result;
  }
  UniqueFd out_read(out_pipe[0]), out_write(out_pipe[1]), err_read(err_pipe[0]), err_write(err_pipe[1]);
  auto child = Child::spawn({.argv = argv,
                             .env = make_environment(env),
                             .redirects = {{.child_fd = 1, .parent_fd = out_write.get()},
                                           {.child_fd = 2, .parent_fd = err_write.get()}}});
  out_write.reset();
  err_write.reset();
  if (!child) {
    result.err = "spawning " + argv[0] + ": " + child.error().message;
    return result;
  }

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool out_open = true;
  bool err_open = true;
  while (out_open || err_open) {
    if (std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      child->kill(SIGKILL);
      break;
    }
    std::vector<pollfd> pfds;
    if (out_open) pfds.push_back({out_read.get(), POLLIN, 0});
    if (err_open) pfds.push_back({err_read.get(), POLLIN, 0});
    const size_t own = pfds.size();
    if (pump != nullptr) {
      for (int fd : pump->fds()) pfds.push_back({fd, POLLIN, 0});
    }
    if (::poll(pfds.data(), pfds.size(), 10) <= 0) continue;
    for (size_t i = 0; i < pfds.size(); ++i) {
      if (pfds[i].revents == 0) continue;
      if (i >= own) {
        pump->on_fd_ready(pfds[i].fd);
        continue;
      }
      char buffer[4096];
      const ssize_t n = ::read(pfds[i].fd, buffer, sizeof buffer);
      const bool is_out = pfds[i].fd == out_read.get();
      if (n <= 0) {
        (is_out ? out_open : err_open) = false;
      } else {
        (is_out ? result.out : result.err).append(buffer, static_cast<size_t>(n));
      }
    }
  }
  const Child::Exit exit = child->wait();
  result.exit_code = result.timed_out ? -1 : exit.code;
  return result;
}

BackgroundChild::BackgroundChild(const std::vector<std::string>& argv,
                                 const std::map<std::string, std::string>& env,
                                 const std::string& stderr_path) {
  auto child = Child::spawn(
      {.argv = argv,
       .env = make_environment(env),
       .redirects = {{.child_fd = 1, .path = "/dev/null", .flags = O_WRONLY},
                     {.child_fd = 2, .path = stderr_path, .flags = O_WRONLY | O_CREAT | O_TRUNC}}});
  if (child) child_.emplace(std::move(*child));
}

bool BackgroundChild::running() {
  if (!child_) return false;
  if (auto exit = child_->try_wait()) {
    exit_code_ = exit->code;
    child_.reset();
    return false;
  }
  return true;
}

int BackgroundChild::stop(std::chrono::milliseconds grace) {
  if (!running()) return exit_code_;
  const Child::Exit exit = child_->stop(grace);
  child_.reset();
  exit_code_ = exit.code;
  return exit_code_;
}

BackgroundChild::~BackgroundChild() { stop(); }

}  // namespace guardian::testing
