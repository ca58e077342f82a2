#include "helper/prekill_hook.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "helper/support/as_user.h"
#include "helper/support/varlink_client.h"
#include "support/scratch_dir.h"

namespace guardian::helper {
namespace {

using guardian::testing::running_as_root;
using guardian::testing::VarlinkClient;

constexpr const char* kJellyfin =
    "/user.slice/user-1000.slice/user@1000.service/container.slice/jellyfin.service";

// The hook's side of the helper's loop, with the notices it produced.
class HookLoop {
 public:
  HookLoop() {
    // so a connection as another uid reaches the socket (and is refused by it)
    ::chmod(dir_.path().c_str(), 0755);
    auto epoll = Epoll::create();
    epoll_.emplace(std::move(*epoll));
    auto hook = PrekillHook::listen(path_, *epoll_, {0, ::geteuid()});
    EXPECT_TRUE(hook.ok()) << hook.error().message;
    hook_.emplace(std::move(*hook));
  }
  void pump(int ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < deadline) {
      epoll_event events[8];
      const int n = ::epoll_wait(epoll_->fd(), events, 8, 10);
      for (int i = 0; i < n; ++i) {
        const Tag tag = Tag::unpack(events[i].data.u64);
        if (tag.source == Source::VarlinkListener) hook_->accept_pending();
        if (tag.source != Source::VarlinkConnection) continue;
        if ((events[i].events & EPOLLOUT) != 0) hook_->on_writable(tag.id);
        if ((events[i].events & (EPOLLIN | EPOLLRDHUP)) != 0) {
          for (auto& notice : hook_->read_from(tag.id)) notices.push_back(notice);
        }
        if ((events[i].events & (EPOLLHUP | EPOLLERR)) != 0) hook_->drop(tag.id);
      }
    }
  }
  PrekillHook& hook() { return *hook_; }
  const std::string& path() const { return path_; }
  std::vector<PrekillHook::Notice> notices;

 private:
  test::ScratchDir dir_{"prekill"};  // outlives the hook (declared first)
  std::string path_ = dir_ / "guardian-helper";
  std::optional<Epoll> epoll_;
  std::optional<PrekillHook> hook_;
};

TEST(PrekillHook, HoldsOomdsCallUntilAnsweredAndKeepsTheOrderOfReplies) {
  HookLoop loop;
  auto oomd = VarlinkClient::connect(loop.path());
  ASSERT_TRUE(oomd.ok()) << oomd.error().message;
  ASSERT_TRUE(oomd->call("io.systemd.oom.Prekill.Notify", {{"cgroup", kJellyfin}}).ok());
  ASSERT_TRUE(oomd->call("org.varlink.service.GetInfo", nlohmann::json::object()).ok());
  loop.pump(200);
  ASSERT_EQ(loop.notices.size(), 1u);
  EXPECT_EQ(loop.notices[0].cgroup, kJellyfin);
  // GetInfo is answered already, but after the Notify in front of it.
  EXPECT_FALSE(oomd->reply(300).ok()) << "no answer while the clients are not ready";

  loop.hook().answer(loop.notices[0].id);
  loop.pump(50);
  auto notify_reply = oomd->reply(2000);
  ASSERT_TRUE(notify_reply.ok()) << notify_reply.error().message;
  EXPECT_EQ(*notify_reply, (nlohmann::json{{"parameters", nlohmann::json::object()}}));
  auto info_reply = oomd->reply(2000);
  ASSERT_TRUE(info_reply.ok());
  EXPECT_EQ((*info_reply)["parameters"]["product"], "guardian-helper");
}

TEST(PrekillHook, AOnewayNotifyIsForwardedWithoutAnAnswer) {
  HookLoop loop;
  auto oomd = VarlinkClient::connect(loop.path());
  ASSERT_TRUE(oomd.ok());
  ASSERT_TRUE(oomd->call("io.systemd.oom.Prekill.Notify", {{"cgroup", kJellyfin}}, /*oneway=*/true).ok());
  loop.pump(200);
  ASSERT_EQ(loop.notices.size(), 1u);
  loop.hook().answer(loop.notices[0].id);
  loop.pump(50);
  EXPECT_FALSE(oomd->reply(200).ok());
}

TEST(PrekillHook, WhenOomdGivesUpTheNoticeIsAbandoned) {
  HookLoop loop;
  {
    auto oomd = VarlinkClient::connect(loop.path());
    ASSERT_TRUE(oomd.ok());
    ASSERT_TRUE(oomd->call("io.systemd.oom.Prekill.Notify", {{"cgroup", kJellyfin}}).ok());
    loop.pump(200);
  }  // PrekillHookTimeoutSec= passed: oomd closes the link and kills
  loop.pump(200);
  ASSERT_EQ(loop.notices.size(), 1u);
  EXPECT_EQ(loop.hook().take_abandoned(), std::vector<uint64_t>{loop.notices[0].id});
  loop.hook().answer(loop.notices[0].id);  // harmless
  EXPECT_EQ(loop.hook().connections(), 0u);
}

TEST(PrekillHook, GarbageClosesTheConnection) {
  HookLoop loop;
  auto peer = VarlinkClient::connect(loop.path());
  ASSERT_TRUE(peer.ok());
  const std::string garbage = std::string("GET / HTTP/1.1\r\n\r\n") + '\0';
  ASSERT_EQ(::send(peer->fd(), garbage.data(), garbage.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(garbage.size()));
  loop.pump(200);
  EXPECT_EQ(loop.hook().connections(), 0u);
  EXPECT_TRUE(loop.notices.empty());
}

TEST(PrekillHook, OnlyRootAndOomdsUserMayAnnounceKills) {
  if (!running_as_root()) GTEST_SKIP() << "needs root to connect as another uid";
  HookLoop loop;
  auto user = VarlinkClient::connect(loop.path(), /*as_uid=*/1000);
  ASSERT_TRUE(user.ok()) << user.error().message;
  (void)user->call("io.systemd.oom.Prekill.Notify",
                   {{"cgroup", "/user.slice/user-1001.slice/user@1001.service"}});
  loop.pump(200);
  EXPECT_TRUE(loop.notices.empty());
  EXPECT_EQ(loop.hook().connections(), 0u);
  EXPECT_FALSE(user->reply(300).ok()) << "closed (EOF or ECONNRESET), never answered";
}

}  // namespace
}  // namespace guardian::helper
