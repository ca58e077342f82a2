// The daemon's messages to systemd go on one socket connected at start (issue 10: sd_notify made
// a socket per WATCHDOG=1, a charge on every tick). Each test owns the notify socket, as systemd
// does: a datagram socket bound to a path or an abstract name.
#include "daemon/systemd_notifier.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

namespace guardian {
namespace {

namespace fs = std::filesystem;

// A datagram socket bound to `address` ("/path" or "@abstract"), read without waiting.
class Listener {
 public:
  explicit Listener(const std::string& address) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un where{};
    where.sun_family = AF_UNIX;
    std::memcpy(where.sun_path, address.data(), address.size());
    if (address.front() == '@') where.sun_path[0] = '\0';
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<const sockaddr*>(&where), length), 0) << std::strerror(errno);
  }
  ~Listener() { ::close(fd_); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // The next datagram, "" when none waits.
  std::string next() {
    char buffer[512];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
  }

 private:
  int fd_ = -1;
};

fs::path temp_dir() {
  fs::path dir = fs::temp_directory_path() / ("guardian-notify-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

TEST(SystemdNotifier, SendsOnTheSocketItConnectedToAPath) {
  const fs::path dir = temp_dir();
  const std::string path = (dir / "notify").string();
  Listener systemd(path);
  SystemdNotifier notifier(path);
  ASSERT_TRUE(notifier.connected());
  notifier.notify("READY=1\nSTATUS=level normal");
  notifier.notify("WATCHDOG=1");
  EXPECT_EQ(systemd.next(), "READY=1\nSTATUS=level normal");
  EXPECT_EQ(systemd.next(), "WATCHDOG=1");
  EXPECT_EQ(notifier.fallbacks(), 0u);
  fs::remove_all(dir);
}

TEST(SystemdNotifier, ReachesAnAbstractName) {
  const std::string name = "@guardian-notify-test-" + std::to_string(::getpid());
  Listener systemd(name);
  SystemdNotifier notifier(name);
  ASSERT_TRUE(notifier.connected());
  for (int i = 0; i < 3; ++i) notifier.notify("WATCHDOG=1");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(systemd.next(), "WATCHDOG=1");
  EXPECT_EQ(systemd.next(), "");
}

// systemd made its socket anew (the kept one now leads nowhere): the kept socket is connected
// again, so the message arrives without a new socket, and so do the next ones.
TEST(SystemdNotifier, ReconnectsTheKeptSocketWhenSystemdMadeItsSocketAnew) {
  const fs::path dir = temp_dir();
  const std::string path = (dir / "notify").string();
  std::optional<Listener> systemd;
  systemd.emplace(path);
  SystemdNotifier kept(path);
  ASSERT_TRUE(kept.connected());
  systemd.reset();  // systemd's socket goes away …
  fs::remove(path);
  Listener again(path);  // … and comes back at the same path
  kept.notify("WATCHDOG=1");
  kept.notify("STATUS=level normal");
  EXPECT_EQ(again.next(), "WATCHDOG=1");
  EXPECT_EQ(again.next(), "STATUS=level normal");
  EXPECT_EQ(kept.reconnects(), 1u);
  EXPECT_EQ(kept.fallbacks(), 0u);
  fs::remove_all(dir);
}

// systemd's socket is gone for good (nothing to connect to): the message goes through
// sd_notify() and $NOTIFY_SOCKET, which reports the failure its own way.
TEST(SystemdNotifier, FallsBackToSdNotifyWhenTheKeptSocketCannotBeConnectedAgain) {
  const fs::path dir = temp_dir();
  const std::string path = (dir / "notify").string();
  const std::string elsewhere = (dir / "notify-elsewhere").string();
  ::setenv("NOTIFY_SOCKET", elsewhere.c_str(), 1);
  Listener fallback(elsewhere);
  std::optional<Listener> systemd;
  systemd.emplace(path);
  SystemdNotifier kept(path);
  ASSERT_TRUE(kept.connected());
  systemd.reset();
  fs::remove(path);
  kept.notify("WATCHDOG=1");
  EXPECT_EQ(fallback.next(), "WATCHDOG=1");
  EXPECT_EQ(kept.fallbacks(), 1u);
  EXPECT_EQ(kept.reconnects(), 0u);
  ::unsetenv("NOTIFY_SOCKET");
  fs::remove_all(dir);
}

// A full queue (systemd busy) drops the ping instead of waiting on a new socket.
TEST(SystemdNotifier, AFullQueueDropsRatherThanWaits) {
  const std::string name = "@guardian-notify-full-" + std::to_string(::getpid());
  Listener systemd(name);
  SystemdNotifier notifier(name);
  ASSERT_TRUE(notifier.connected());
  for (int i = 0; i < 200; ++i) notifier.notify("WATCHDOG=1");  // max_dgram_qlen is ~10
  EXPECT_GT(notifier.dropped(), 0u);
  EXPECT_EQ(notifier.fallbacks(), 0u);
  EXPECT_EQ(systemd.next(), "WATCHDOG=1");
}

TEST(SystemdNotifier, WithoutAnAddressNothingIsSentOrKept) {
  SystemdNotifier notifier{std::string_view()};
  EXPECT_FALSE(notifier.connected());
  notifier.notify("WATCHDOG=1");
  EXPECT_EQ(notifier.fallbacks(), 0u);
}

}  // namespace
}  // namespace guardian
