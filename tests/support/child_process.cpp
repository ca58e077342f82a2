#include "support/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

int decode_status(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

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
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
  auto args = argv;
  auto envs = make_environment(env);
  auto arg_ptrs = pointers(args);
  auto env_ptrs = pointers(envs);
  pid_t pid = -1;
  const int spawn_error =
      ::posix_spawn(&pid, args[0].c_str(), &actions, nullptr, arg_ptrs.data(), env_ptrs.data());
  posix_spawn_file_actions_destroy(&actions);
  out_write.reset();
  err_write.reset();
  if (spawn_error != 0) {
    result.err = "spawning " + args[0] + ": " + std::strerror(spawn_error);
    return result;
  }

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool out_open = true;
  bool err_open = true;
  while (out_open || err_open) {
    if (std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
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
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = result.timed_out ? -1 : decode_status(status);
  return result;
}

BackgroundChild::BackgroundChild(const std::vector<std::string>& argv,
                                 const std::map<std::string, std::string>& env,
                                 const std::string& stderr_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  auto args = argv;
  auto envs = make_environment(env);
  auto arg_ptrs = pointers(args);
  auto env_ptrs = pointers(envs);
  pid_t pid = -1;
  if (::posix_spawn(&pid, args[0].c_str(), &actions, nullptr, arg_ptrs.data(), env_ptrs.data()) == 0)
    pid_ = pid;
  posix_spawn_file_actions_destroy(&actions);
}

bool BackgroundChild::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    exit_code_ = decode_status(status);
    pid_ = -1;
    return false;
  }
  return true;
}

int BackgroundChild::stop(std::chrono::milliseconds grace) {
  if (!running()) return exit_code_;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running()) return exit_code_;
    ::usleep(10'000);
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  exit_code_ = -1;
  return exit_code_;
}

BackgroundChild::~BackgroundChild() { stop(); }

}  // namespace guardian::testing
