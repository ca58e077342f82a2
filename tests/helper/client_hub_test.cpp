#include "helper/client_hub.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "helper/support/as_user.h"
#include "support/scratch_dir.h"

namespace guardian::helper {
namespace {

using guardian::testing::connect_as;
using guardian::testing::drain;
using guardian::testing::read_lines;
using guardian::testing::read_until;
using guardian::testing::running_as_root;

// Two desktop users of the incident machine's kind (uids as Fedora hands them out).
constexpr uid_t kAlice = 1000;
constexpr uid_t kBob = 1001;

helper_wire::ProcessExec transcode_of(uid_t uid, uint32_t pid) {
  helper_wire::ProcessExec m;
  m.ts_ns = 1000 + pid;
  m.pid = pid;
  m.ppid = 1;
  m.uid = uid;
  m.cgroup = "/user.slice/user-" + std::to_string(uid) + ".slice/user@" + std::to_string(uid) +
             ".service/container.slice/jellyfin.service";
  m.cgroup_id = 4000 + uid;
  m.comm = "ffmpeg";
  m.argv = {"/usr/lib/jellyfin-ffmpeg/ffmpeg", "-i", "file:/media/movie.mkv", "-codec:v:0", "libx264"};
  return m;
}

// The hub's side of the helper's loop: accept, read, write, for up to `ms`.
class HubLoop {
 public:
  explicit HubLoop(HubLimits limits = {}) {
    ::chmod(dir_.path().c_str(), 0755);  // the other uids' connections pass through it
    auto epoll = Epoll::create();
    EXPECT_TRUE(epoll.ok());
    epoll_.emplace(std::move(*epoll));
    auto hub = ClientHub::listen(path_, *epoll_, limits);
    EXPECT_TRUE(hub.ok()) << hub.error().message;
    hub_.emplace(std::move(*hub));
  }
  void pump(int ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    do {
      epoll_event events[16];
      const int n = ::epoll_wait(epoll_->fd(), events, 16, ms == 0 ? 0 : 10);
      for (int i = 0; i < n; ++i) {
        const Tag tag = Tag::unpack(events[i].data.u64);
        if (tag.source == Source::Listener) {
          hub_->accept_pending([](const ClientInfo& c) {
            helper_wire::Hello hello;
            hello.uid = c.uid;
            return hello;
          });
        } else if (tag.source == Source::Client) {
          if ((events[i].events & EPOLLOUT) != 0) hub_->on_writable(tag.id);
          if ((events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) != 0) {
            auto input = hub_->read_from(tag.id);
            requests_.insert(requests_.end(), input.requests.begin(), input.requests.end());
          }
        }
      }
    } while (std::chrono::steady_clock::now() < deadline);
  }
  ClientHub& hub() { return *hub_; }
  const std::string& path() const { return path_; }

 private:
  test::ScratchDir dir_{"hub"};  // outlives the hub (declared first)
  std::string path_ = dir_ / "helper.sock";
  std::optional<Epoll> epoll_;
  std::optional<ClientHub> hub_;
  std::vector<helper_wire::ClientRequest> requests_;
};

TEST(ClientHub, EachUserSeesOnlyItsOwnEventsAndRootSeesAll) {
  if (!running_as_root()) GTEST_SKIP() << "needs root to connect as other uids";
  HubLoop loop;
  auto alice = connect_as(kAlice, loop.path());
  auto bob = connect_as(kBob, loop.path());
  auto root = connect_as(0, loop.path());
  ASSERT_TRUE(alice.ok() && bob.ok() && root.ok());
  loop.pump(200);
  ASSERT_EQ(loop.hub().size(), 3u);

  loop.hub().deliver(transcode_of(kAlice, 101), kAlice);
  loop.hub().deliver(transcode_of(kBob, 202), kBob);
  loop.hub().deliver(transcode_of(kBob, 303), std::nullopt);  // owner unknown: root only
  loop.pump(100);

  const auto alice_lines = read_lines(alice->get(), 2, 2000);
  const auto bob_lines = read_lines(bob->get(), 2, 2000);
  const auto root_lines = read_lines(root->get(), 4, 2000);
  ASSERT_EQ(alice_lines.size(), 2u);
  EXPECT_EQ(alice_lines[0], "hello version=1 uid=1000 scope= owner= probes= pressure=0 prekill=0");
  EXPECT_NE(alice_lines[1].find("pid=101 "), std::string::npos);
  ASSERT_EQ(bob_lines.size(), 2u);
  EXPECT_NE(bob_lines[1].find("pid=202 "), std::string::npos);
  ASSERT_EQ(root_lines.size(), 4u);
  EXPECT_NE(root_lines[1].find("pid=101 "), std::string::npos);
  EXPECT_NE(root_lines[2].find("pid=202 "), std::string::npos);
  EXPECT_NE(root_lines[3].find("pid=303 "), std::string::npos);
  // Nothing else is waiting for Alice or Bob.
  EXPECT_EQ(read_until(alice->get(), "", 200), "");
  EXPECT_EQ(read_until(bob->get(), "", 200), "");
}

TEST(ClientHub, AClientThatDoesNotReadLosesOnlyItsOwnEventsAndIsToldHowMany) {
  if (!running_as_root()) GTEST_SKIP() << "needs root to connect as other uids";
  HubLimits limits;
  limits.queue_bytes = 64 * 1024;
  HubLoop loop(limits);
  auto stalled = connect_as(kAlice, loop.path());
  auto reader = connect_as(kAlice, loop.path());
  ASSERT_TRUE(stalled.ok() && reader.ok());
  loop.pump(200);

  // Far more than the stalled client's socket buffer and queue hold together.
  constexpr int kEvents = 20000;
  std::size_t reader_lines = 0;
  std::string partial;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kEvents; ++i) {
    loop.hub().deliver(transcode_of(kAlice, static_cast<uint32_t>(i + 1)), kAlice);
    if (i % 20 == 0) {
      partial += drain(reader->get());
      loop.pump(0);
    }
  }
  const auto spent = std::chrono::steady_clock::now() - start;
  EXPECT_LT(spent, std::chrono::seconds(30)) << "delivery must never wait for a client";
  for (int round = 0; round < 200 && reader_lines < kEvents + 1; ++round) {
    loop.pump(5);
    partial += drain(reader->get());
    reader_lines = static_cast<std::size_t>(std::count(partial.begin(), partial.end(), '\n'));
  }
  EXPECT_EQ(reader_lines, static_cast<std::size_t>(kEvents) + 1)
      << "the reading client got every event (+ hello)";
  EXPECT_EQ(partial.find("lost "), std::string::npos);
  EXPECT_GT(loop.hub().total_lost(), 0u);

  // The stalled client now reads: what fitted, then how many it missed.
  std::string stalled_text;
  for (int round = 0; round < 400 && stalled_text.find("lost count=") == std::string::npos; ++round) {
    loop.pump(5);
    stalled_text += drain(stalled->get());
  }
  const auto at = stalled_text.find("lost count=");
  ASSERT_NE(at, std::string::npos);
  const uint64_t lost = std::stoull(stalled_text.substr(at + 11));
  for (int round = 0; round < 100; ++round) {
    loop.pump(5);
    stalled_text += drain(stalled->get());
  }
  const auto received =
      static_cast<uint64_t>(std::count(stalled_text.begin(), stalled_text.end(), '\n')) - 2;  // hello, lost
  EXPECT_EQ(received + lost, static_cast<uint64_t>(kEvents));
  EXPECT_EQ(lost, loop.hub().total_lost());
}

TEST(ClientHub, MalformedLinesAreAnsweredAndAFloodOfThemEndsTheConnection) {
  if (!running_as_root()) GTEST_SKIP() << "needs root to connect as other uids";
  HubLoop loop;
  auto client = connect_as(kBob, loop.path());
  ASSERT_TRUE(client.ok());
  loop.pump(100);
  const std::string bad = "watch-pressure request=1 cgroup=/x kind=most stall_us=1 window_us=2\n";
  ASSERT_EQ(::send(client->get(), bad.data(), bad.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bad.size()));
  loop.pump(100);
  const auto reply = read_lines(client->get(), 2, 2000);
  ASSERT_EQ(reply.size(), 2u);
  EXPECT_EQ(reply[1].rfind("error request=0 message=helper\\x20request\\x20'watch-pressure'", 0), 0u)
      << reply[1];
  EXPECT_EQ(loop.hub().size(), 1u) << "one bad line does not end the connection";

  std::string flood;
  for (int i = 0; i < 20; ++i) flood += "nonsense\n";
  (void)::send(client->get(), flood.data(), flood.size(), MSG_NOSIGNAL);
  loop.pump(200);
  EXPECT_EQ(loop.hub().size(), 0u);
}

TEST(ClientHub, ConnectionsAreCappedPerUserButNotForRoot) {
  if (!running_as_root()) GTEST_SKIP() << "needs root to connect as other uids";
  HubLimits limits;
  limits.max_clients_per_uid = 2;
  HubLoop loop(limits);
  std::vector<UniqueFd> keep;
  for (int i = 0; i < 2; ++i) keep.push_back(connect_as(kAlice, loop.path()).value());
  loop.pump(100);
  auto third = connect_as(kAlice, loop.path());
  ASSERT_TRUE(third.ok());
  loop.pump(100);
  const std::string refused = read_until(third->get(), "\n", 2000);
  EXPECT_NE(refused.find("too\\x20many\\x20connections\\x20for\\x20uid\\x201000"), std::string::npos)
      << refused;
  for (int i = 0; i < 3; ++i) keep.push_back(connect_as(0, loop.path()).value());
  loop.pump(100);
  EXPECT_EQ(loop.hub().size(), 5u);
}

}  // namespace
}  // namespace guardian::helper
