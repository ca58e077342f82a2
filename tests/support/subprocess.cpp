#include "support/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <utility>

extern char** environ;

namespace guardian::test {

Subprocess::Subprocess(std::vector<std::string> argv, std::vector<std::string> env) {
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return;
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return;
  }
  // An entry in `env` replaces the variable of the same name (getenv would find the first of two).
  std::vector<std::string> environment;
  for (char** e = environ; *e; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = entry.substr(0, entry.find('='));
    const bool replaced = std::any_of(env.begin(), env.end(), [&](const std::string& extra) {
      return extra.size() > name.size() && extra.compare(0, name.size(), name) == 0 &&
             extra[name.size()] == '=';
    });
    if (!replaced) environment.emplace_back(entry);
  }
  for (auto& extra : env) environment.push_back(std::move(extra));
  auto started = Child::spawn({.argv = std::move(argv),
                               .env = std::move(environment),
                               .redirects = {{.child_fd = STDOUT_FILENO, .parent_fd = out_pipe[1]},
                                             {.child_fd = STDERR_FILENO, .parent_fd = err_pipe[1]}}});
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  out_fd_ = out_pipe[0];
  err_fd_ = err_pipe[0];
  if (started.ok()) child_.emplace(std::move(*started));
}

Subprocess::~Subprocess() {
  child_.reset();  // SIGKILL and reap when still running
  if (out_fd_ >= 0) ::close(out_fd_);
  if (err_fd_ >= 0) ::close(err_fd_);
}

void Subprocess::pump(std::chrono::milliseconds budget) {
  pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
  if (::poll(fds, 2, static_cast<int>(budget.count())) <= 0) return;
  char buf[4096];
  for (int i = 0; i < 2; ++i) {
    if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
    ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
    if (n > 0) (i == 0 ? out_ : err_).append(buf, static_cast<size_t>(n));
    if (n == 0) {
      ::close(fds[i].fd);
      (i == 0 ? out_fd_ : err_fd_) = -1;
    }
  }
}

std::string Subprocess::wait_for(const std::string& needle, std::chrono::milliseconds timeout,
                                 bool from_stdout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string& text = from_stdout ? out_ : err_;
  size_t& scanned = from_stdout ? out_scanned_ : err_scanned_;
  for (;;) {
    // Complete lines only, each looked at once, so consecutive waits see consecutive events.
    for (;;) {
      const auto eol = text.find('\n', scanned);
      if (eol == std::string::npos) break;
      std::string line = text.substr(scanned, eol - scanned);
      scanned = eol + 1;
      if (line.find(needle) != std::string::npos) return line;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline || (out_fd_ < 0 && err_fd_ < 0)) return {};
    pump(std::min(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now),
                  std::chrono::milliseconds(100)));
  }
}

void Subprocess::signal(int sig) const {
  if (child_ && status_ < 0) child_->kill(sig);
}

int Subprocess::wait_exit(std::chrono::milliseconds timeout) {
  if (status_ >= 0) return status_;
  if (!child_) return -1;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (const auto exit = child_->try_wait()) {
      status_ = exit->signal == 0 ? exit->code : 128 + exit->signal;
      while (out_fd_ >= 0 || err_fd_ >= 0) pump(std::chrono::milliseconds(50));
      return status_;
    }
    pump(std::chrono::milliseconds(20));
  }
  return -1;
}

RunResult run(std::vector<std::string> argv, std::chrono::milliseconds timeout,
              std::vector<std::string> env) {
  Subprocess process(std::move(argv), std::move(env));
  RunResult result;
  result.status = process.wait_exit(timeout);
  result.out = process.stdout_text();
  result.err = process.stderr_text();
  return result;
}

}  // namespace guardian::test
