#include "common/child.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <thread>
#include <utility>

extern char** environ;

namespace guardian {
namespace {

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<Child> Child::spawn(const Spec& spec) {
  if (spec.argv.empty()) return make_error("no program to start");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (const auto& redirect : spec.redirects) {
    if (redirect.parent_fd >= 0)
      posix_spawn_file_actions_adddup2(&actions, redirect.parent_fd, redirect.child_fd);
    else
      posix_spawn_file_actions_addopen(&actions, redirect.child_fd, redirect.path.c_str(), redirect.flags,
                                       0600);
  }
  // The child starts with nothing blocked and every signal at its default action: the daemon
  // blocks SIGTERM/SIGINT/SIGHUP for its signalfd, and a child inheriting that mask would ignore
  // stop()'s SIGTERM and only ever end by SIGKILL.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<std::string> args = spec.argv;
  std::vector<std::string> env = spec.env.value_or(std::vector<std::string>{});
  auto arg_ptrs = pointers(args);
  auto env_ptrs = pointers(env);
  char** envp = spec.env ? env_ptrs.data() : environ;
  pid_t pid = -1;
  const int error = spec.search_path
                        ? ::posix_spawnp(&pid, args[0].c_str(), &actions, &attributes, arg_ptrs.data(), envp)
                        : ::posix_spawn(&pid, args[0].c_str(), &actions, &attributes, arg_ptrs.data(), envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) return errno_error("cannot start " + args[0], error);
  return Child(pid);
}

Child::Child(Child&& other) noexcept : pid_(std::exchange(other.pid_, -1)), exit_(other.exit_) {}

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) {
      kill(SIGKILL);
      wait();
    }
    pid_ = std::exchange(other.pid_, -1);
    exit_ = other.exit_;
  }
  return *this;
}

Child::~Child() {
  if (pid_ <= 0) return;
  kill(SIGKILL);
  wait();
}

void Child::kill(int signal) const {
  if (pid_ > 0) ::kill(pid_, signal);
}

void Child::reap(int status) {
  pid_ = -1;
  exit_ =
      WIFEXITED(status) ? Exit{WEXITSTATUS(status), 0} : Exit{-1, WIFSIGNALED(status) ? WTERMSIG(status) : 0};
}

std::optional<Child::Exit> Child::try_wait() {
  if (pid_ <= 0) return exit_;
  int status = 0;
  pid_t done = -1;
  do {
    done = ::waitpid(pid_, &status, WNOHANG);
  } while (done < 0 && errno == EINTR);
  if (done == 0) return std::nullopt;
  if (done < 0) {  // ECHILD: someone else reaped it; nothing is known about how it ended
    pid_ = -1;
    return exit_;
  }
  reap(status);
  return exit_;
}

Child::Exit Child::wait() {
  if (pid_ <= 0) return exit_;
  int status = 0;
  pid_t done = -1;
  do {
    done = ::waitpid(pid_, &status, 0);
  } while (done < 0 && errno == EINTR);
  if (done < 0) {
    pid_ = -1;
    return exit_;
  }
  reap(status);
  return exit_;
}

Child::Exit Child::stop(std::chrono::milliseconds grace) {
  if (auto exit = try_wait()) return *exit;
  kill(SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto exit = try_wait()) return *exit;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(SIGKILL);
  return wait();
}

}  // namespace guardian
