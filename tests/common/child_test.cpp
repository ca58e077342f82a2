// common/child: real processes (/bin/sh, /bin/sleep) started, redirected, signalled and reaped.
#include "common/child.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "common/fd.h"

namespace guardian {
namespace {

using namespace std::chrono_literals;

TEST(Child, RunsRedirectsAndReportsTheExitCode) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  auto child = Child::spawn({.argv = {"/bin/sh", "-c", "echo \"$GREETING\"; exit 3"},
                             .env = std::vector<std::string>{"GREETING=hello from the child"},
                             .redirects = {{.child_fd = 1, .parent_fd = write_end.get()}}});
  ASSERT_TRUE(child.ok()) << child.error().message;
  write_end.reset();
  std::string out;
  char buffer[256];
  for (ssize_t n; (n = ::read(read_end.get(), buffer, sizeof buffer)) > 0;)
    out.append(buffer, static_cast<size_t>(n));
  EXPECT_EQ(out, "hello from the child\n");
  const Child::Exit exit = child->wait();
  EXPECT_TRUE(exit.exited_with(3));
  EXPECT_EQ(child->pid(), -1);                // reaped
  EXPECT_TRUE(child->wait().exited_with(3));  // and remembered
  EXPECT_TRUE(child->try_wait()->exited_with(3));
}

TEST(Child, StopEscalatesToSigkillAndTheDestructorReaps) {
  // Ignores SIGTERM: stop() has to SIGKILL it after the grace period.
  auto stubborn =
      Child::spawn({.argv = {"/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"},
                    .redirects = {{.child_fd = 1, .path = "/dev/null", .flags = O_WRONLY}}});
  ASSERT_TRUE(stubborn.ok());
  EXPECT_FALSE(stubborn->try_wait().has_value());  // running
  std::this_thread::sleep_for(100ms);              // let the shell set its trap
  const auto start = std::chrono::steady_clock::now();
  const Child::Exit exit = stubborn->stop(200ms);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
  EXPECT_EQ(exit.signal, SIGKILL);
  EXPECT_EQ(exit.code, -1);

  pid_t pid = -1;
  {
    auto sleeper = Child::spawn({.argv = {"/bin/sleep", "60"}});
    ASSERT_TRUE(sleeper.ok());
    pid = sleeper->pid();
    ASSERT_EQ(::kill(pid, 0), 0);
  }  // killed and reaped here: no zombie left with that pid
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST(Child, StartsWithNoSignalBlockedOrIgnoredWhateverTheParentHas) {
  // The daemon blocks SIGTERM for its signalfd and a test may ignore SIGPIPE; a child must still
  // end on stop()'s SIGTERM, not wait out the grace period for SIGKILL.
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigset_t previous;
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &term, &previous), 0);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previous_int {};
  ASSERT_EQ(::sigaction(SIGINT, &ignore, &previous_int), 0);
  auto sleeper = Child::spawn({.argv = {"/bin/sleep", "60"}});
  auto interrupted = Child::spawn({.argv = {"/bin/sleep", "60"}});
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ::sigaction(SIGINT, &previous_int, nullptr);
  ASSERT_TRUE(sleeper.ok() && interrupted.ok());
  const Child::Exit exit = sleeper->stop(30s);
  EXPECT_EQ(exit.signal, SIGTERM);  // not SIGKILL after 30 s
  interrupted->kill(SIGINT);
  std::optional<Child::Exit> interrupted_exit;
  for (int i = 0; i < 1000 && !(interrupted_exit = interrupted->try_wait()); ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(interrupted_exit.has_value()) << "SIGINT stayed ignored in the child";
  EXPECT_EQ(interrupted_exit->signal, SIGINT);
}

TEST(Child, AProgramThatCannotStartIsAnErrorNamingIt) {
  auto missing = Child::spawn({.argv = {"/nonexistent/guardian-probe"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ENOENT);
  EXPECT_NE(missing.error().message.find("/nonexistent/guardian-probe"), std::string::npos)
      << missing.error().message;
  auto in_path = Child::spawn({.argv = {"sh", "-c", "exit 0"}, .search_path = true});
  ASSERT_TRUE(in_path.ok()) << in_path.error().message;
  EXPECT_TRUE(in_path->wait().exited_with(0));
}

}  // namespace
}  // namespace guardian
