// systemd's watchdog ping and STATUS= leave the loop for a thread of their own (issue 10: each
// datagram is a charge, and memory.high's penalty falls on the task that charged), and the ping
// still says the loop is alive: none while the loop's counter stands still. The test owns the
// notify socket as systemd does: a real AF_UNIX datagram socket on an abstract name.
#include "daemon/watchdog_pinger.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace guardian {
namespace {

using namespace std::chrono_literals;

class NotifySocket {
 public:
  NotifySocket() : name_("@guardian-pinger-test-" + std::to_string(::getpid())) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un where{};
    where.sun_family = AF_UNIX;
    std::memcpy(where.sun_path + 1, name_.data() + 1, name_.size() - 1);
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<const sockaddr*>(&where), length), 0) << std::strerror(errno);
  }
  ~NotifySocket() { ::close(fd_); }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;
  [[nodiscard]] const std::string& name() const { return name_; }
  // Every datagram waiting now.
  std::vector<std::string> drain() {
    std::vector<std::string> out;
    char buffer[512];
    for (ssize_t n; (n = ::recv(fd_, buffer, sizeof buffer, 0)) > 0;)
      out.emplace_back(buffer, static_cast<size_t>(n));
    return out;
  }

 private:
  std::string name_;
  int fd_ = -1;
};

size_t count(const std::vector<std::string>& messages, const std::string& text) {
  size_t n = 0;
  for (const auto& message : messages) n += message == text ? 1 : 0;
  return n;
}

TEST(LivenessGate, PingsOnlyWhenTheLoopsCounterMovedSinceTheLastPing) {
  LivenessGate gate;
  EXPECT_FALSE(gate.should_ping(0)) << "no tick yet";
  EXPECT_TRUE(gate.should_ping(1));
  EXPECT_FALSE(gate.should_ping(1)) << "the loop has not ticked since: stuck, no ping";
  EXPECT_FALSE(gate.should_ping(1));
  EXPECT_TRUE(gate.should_ping(7)) << "several ticks since the last look: one ping";
  EXPECT_FALSE(gate.should_ping(7));
}

TEST(StatusMailbox, HandsOverEachNewTextOnceAndCutsALongOne) {
  StatusMailbox mailbox;
  StatusMailbox::Text text{};
  uint64_t seen = 0;
  EXPECT_FALSE(mailbox.take_if_new(text, seen)) << "nothing published yet";
  mailbox.publish("STATUS=level normal");
  ASSERT_TRUE(mailbox.take_if_new(text, seen));
  EXPECT_STREQ(text.data(), "STATUS=level normal");
  EXPECT_FALSE(mailbox.take_if_new(text, seen)) << "the same text twice";
  mailbox.publish("STATUS=level elevated, worst watched cgroup at 61% of oomd's limit");
  mailbox.publish("STATUS=level critical, worst watched cgroup at 93% of oomd's limit");
  ASSERT_TRUE(mailbox.take_if_new(text, seen));
  EXPECT_STREQ(text.data(), "STATUS=level critical, worst watched cgroup at 93% of oomd's limit")
      << "the latest wins";
  mailbox.publish(std::string(400, 'x'));
  ASSERT_TRUE(mailbox.take_if_new(text, seen));
  EXPECT_EQ(std::strlen(text.data()), StatusMailbox::kBytes - 1);
}

// A writer publishing while a reader takes: every text the reader gets is one the writer wrote
// whole (both halves of the same number), never a mix of two.
TEST(StatusMailbox, AReaderNeverSeesHalfOfOneTextAndHalfOfAnother) {
  StatusMailbox mailbox;
  std::atomic<bool> done{false};
  std::atomic<size_t> taken{0};
  std::thread writer([&] {
    char text[StatusMailbox::kBytes];
    // At least 20000 texts, and on until the reader has taken 100 of them: on a loaded machine
    // the writer could finish before the reader was first scheduled (taken = 0 under ctest -j2
    // beside a VM run). Bounded, so a reader that never takes fails rather than hangs.
    for (int i = 0; i < 20000 || (taken.load() < 100 && i < 20'000'000); ++i) {
      std::snprintf(text, sizeof text, "STATUS=%0120d|%0120d", i % 100000000, i % 100000000);
      mailbox.publish(text);
    }
    done = true;
  });
  StatusMailbox::Text text{};
  uint64_t seen = 0;
  while (!done) {
    if (!mailbox.take_if_new(text, seen)) continue;
    ++taken;
    const std::string got(text.data());
    ASSERT_EQ(got.size(), 7u + 120 + 1 + 120) << got;
    EXPECT_EQ(got.substr(7, 120), got.substr(128, 120)) << "a torn read";
  }
  writer.join();
  EXPECT_GE(taken.load(), 100u);
}

// WatchdogSec=400ms: a look every 100 ms. While the loop beats, pings come; while it stands
// still (a stuck loop), at most the one its last beat earned; beating again, they come again.
TEST(WatchdogPinger, PingsWhileTheLoopBeatsAndStopsWhenItStandsStill) {
  NotifySocket systemd;
  WatchdogPinger pinger(400ms, SystemdNotifier(systemd.name()));
  EXPECT_EQ(pinger.ping_period(), 100ms);
  for (int i = 0; i < 20; ++i) {  // a loop ticking every 50 ms for a second
    pinger.beat();
    std::this_thread::sleep_for(50ms);
  }
  const size_t alive = count(systemd.drain(), "WATCHDOG=1");
  EXPECT_GE(alive, 4u) << "pings while the loop ticked";
  EXPECT_LE(alive, 11u) << "at most one per period, not one per beat";

  std::this_thread::sleep_for(1000ms);  // the loop stuck: no beat for 10 periods
  EXPECT_LE(count(systemd.drain(), "WATCHDOG=1"), 1u) << "pings while the loop stood still";

  for (int i = 0; i < 10; ++i) {
    pinger.beat();
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_GE(count(systemd.drain(), "WATCHDOG=1"), 2u) << "no ping after the loop came back";
}

TEST(WatchdogPinger, SendsTheLatestStatusAndNoPingWithoutAWatchdog) {
  NotifySocket systemd;
  WatchdogPinger pinger(0us, SystemdNotifier(systemd.name()));
  pinger.beat();
  pinger.publish_status("STATUS=level elevated");
  pinger.publish_status("STATUS=level critical");
  std::vector<std::string> got;
  for (int i = 0; i < 40 && got.empty(); ++i) {
    std::this_thread::sleep_for(100ms);
    got = systemd.drain();
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "STATUS=level critical");
  EXPECT_EQ(pinger.pings(), 0u);
}

}  // namespace
}  // namespace guardian
