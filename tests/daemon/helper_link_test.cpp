// HelperLink against a real Unix socket where guardian-helper's would be, the helper's side
// written with the real wire encoder (common/helper_wire.h): silent without a helper, each event
// handed on as it arrives, pre-kill answered, a restarted helper found again.
#include "daemon/helper_link.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/fd.h"
#include "support/fake_helper.h"

namespace guardian {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::FakeHelper;

// What the handlers received, in order.
struct Seen {
  std::vector<KillSeen> kills;
  std::vector<helper_wire::ProcessExec> execs;
  std::vector<helper_wire::PrekillNotice> prekills;
  std::vector<Event> told;
  std::vector<size_t> pressure;  // indexes of the watched cgroups whose watch fired
};

HelperHandlers record(Seen& seen) {
  HelperHandlers handlers;
  handlers.kill = [&seen](const KillSeen& kill) { seen.kills.push_back(kill); };
  handlers.exec = [&seen](const helper_wire::ProcessExec& exec) { seen.execs.push_back(exec); };
  handlers.prekill = [&seen](const helper_wire::PrekillNotice& notice) { seen.prekills.push_back(notice); };
  handlers.tell = [&seen](const Event& event) { seen.told.push_back(event); };
  handlers.pressure = [&seen](size_t index) { seen.pressure.push_back(index); };
  return handlers;
}

// As the daemon's epoll: wait until the link's fd is readable, then read.
void pump(HelperLink& link) {
  ASSERT_GE(link.fd(), 0);
  pollfd entry{link.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&entry, 1, 5000), 1);
  link.on_readable(Clock::now());
}

// As the daemon's epoll: wait until the link's inotify fd is readable, then hand it the events.
bool watch_fires(HelperLink& link, std::chrono::milliseconds timeout = 5000ms) {
  pollfd entry{link.watch_fd(), POLLIN, 0};
  if (::poll(&entry, 1, static_cast<int>(timeout.count())) != 1) return false;
  link.on_watch_readable(Clock::now());
  return true;
}

std::string field(const Event& event, const std::string& name) {
  for (const auto& [key, value] : event.fields)
    if (key == name) return value;
  return "";
}

TEST(HelperLink, WithoutAHelperItPollsAndSaysNothing) {
  FakeHelper helper;  // the directory exists, the socket does not
  Seen seen;
  HelperLink link(helper.path(), record(seen), 0ms);
  for (int i = 0; i < 3; ++i) link.maintain(Clock::now());
  EXPECT_EQ(link.fd(), -1);
  EXPECT_STREQ(link.mode(), "polling");
  EXPECT_EQ(link.connection(), 0u);
  EXPECT_TRUE(seen.told.empty());
}

TEST(HelperLink, AnEmptySocketPathNeverConnects) {
  FakeHelper helper;
  helper.listen();
  Seen seen;
  HelperLink link("", record(seen), 0ms);
  link.maintain(Clock::now());
  EXPECT_EQ(link.fd(), -1);
}

TEST(HelperLink, HandsOnKillsExecsAndPrekillAsTheyArrive) {
  FakeHelper helper;
  helper.listen();
  Seen seen;
  HelperLink link(helper.path(), record(seen), 0ms);
  link.maintain(Clock::now());
  ASSERT_GE(link.fd(), 0);
  EXPECT_EQ(link.connection(), 1u);
  ASSERT_TRUE(helper.accept());
  // Connected but not yet greeted: still polling.
  EXPECT_STREQ(link.mode(), "polling");

  helper.send(FakeHelper::hello_for_user_1000());
  pump(link);
  EXPECT_STREQ(link.mode(), "helper");
  ASSERT_EQ(seen.told.size(), 1u);
  EXPECT_EQ(field(seen.told[0], "HELPER"), "connected");
  EXPECT_EQ(field(seen.told[0], "HELPER_PROBES"), "exec,oom-kill,oomd-kill");
  EXPECT_NE(seen.told[0].message.find("pre-kill"), std::string::npos) << seen.told[0].message;

  // A transcode starts, the kernel kills a hog, systemd-oomd kills a slice's job: values as the
  // VM scenario `helper` saw them (tests/vm/out/helper).
  helper_wire::ProcessExec exec;
  exec.ts_ns = 5'000'000'000;
  exec.pid = 4242;
  exec.ppid = 4200;
  exec.uid = 1000;
  exec.cgroup = "/user.slice/user-1000.slice/user@1000.service/app.slice/jellyfin.service";
  exec.comm = "ffmpeg";
  exec.argv = {"/usr/bin/ffmpeg", "-i", "/media/film.mkv"};
  helper_wire::KernelOomKill oom;
  oom.ts_ns = 6'000'000'000;
  oom.pid = oom.tgid = 5151;
  oom.uid = 1000;
  oom.cgroup = "/user.slice/user-1000.slice/user@1000.service/app.slice/hog.service";
  oom.memcg = oom.cgroup;
  oom.comm = "python3";
  helper_wire::OomdKill oomd;
  oomd.ts_ns = 7'000'000'000;
  oomd.pid = oomd.tgid = 6161;
  oomd.sender_pid = 321;
  oomd.cgroup = "/user.slice/user-1000.slice/user@1000.service/app.slice/stress.service";
  oomd.comm = "stress-ng";
  helper_wire::PrekillNotice notice;
  notice.id = 7;
  notice.ts_ns = 6'500'000'000;
  notice.cgroup = "/user.slice/user-1000.slice/user@1000.service/app.slice";
  notice.wait_ms = 20000;
  helper.send_raw(helper_wire::encode(exec) + helper_wire::encode(oom) + helper_wire::encode(notice) +
                  helper_wire::encode(oomd));
  pump(link);

  ASSERT_EQ(seen.execs.size(), 1u);
  EXPECT_EQ(seen.execs[0].pid, 4242u);
  EXPECT_EQ(seen.execs[0].argv.back(), "/media/film.mkv");
  ASSERT_EQ(seen.kills.size(), 2u);
  EXPECT_EQ(seen.kills[0].killer, KillSeen::Killer::Kernel);
  EXPECT_EQ(seen.kills[0].source, KillSeen::Source::Helper);
  EXPECT_EQ(seen.kills[0].cgroup, oom.cgroup);
  EXPECT_EQ(seen.kills[0].unit, "hog.service");
  // The kernel's CLOCK_MONOTONIC stamp is the moment of the kill, on steady_clock's scale.
  EXPECT_EQ(seen.kills[0].seen.time_since_epoch(), std::chrono::nanoseconds(6'000'000'000));
  EXPECT_EQ(seen.kills[1].killer, KillSeen::Killer::SystemdOomd);
  EXPECT_EQ(seen.kills[1].unit, "stress.service");
  ASSERT_EQ(seen.prekills.size(), 1u);
  EXPECT_EQ(seen.prekills[0].cgroup, notice.cgroup);
  EXPECT_EQ(link.events(), 4u);

  // The answer goes back as the helper expects it.
  link.prekill_done(seen.prekills[0].id);
  auto answer = helper_wire::decode_client_request(helper.read_line());
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  ASSERT_TRUE(std::holds_alternative<helper_wire::PrekillDone>(*answer));
  EXPECT_EQ(std::get<helper_wire::PrekillDone>(*answer).id, 7u);
  EXPECT_EQ(seen.told.size(), 1u);  // nothing more said than "connected"
}

TEST(HelperLink, ABadLineIsToldAndTheConnectionStays) {
  FakeHelper helper;
  helper.listen();
  Seen seen;
  HelperLink link(helper.path(), record(seen), 0ms);
  link.maintain(Clock::now());
  ASSERT_TRUE(helper.accept());
  // One write, so one read sees both.
  helper.send_raw(helper_wire::encode(FakeHelper::hello_for_user_1000()) + "oom-kill ts=notanumber pid=1\n");
  pump(link);
  ASSERT_EQ(seen.told.size(), 2u);
  EXPECT_EQ(seen.told[1].type, EventType::SenseProblem);
  EXPECT_NE(seen.told[1].message.find("bad line"), std::string::npos) << seen.told[1].message;
  EXPECT_STREQ(link.mode(), "helper");
  helper_wire::Lost lost;
  lost.count = 12;
  helper.send(lost);
  pump(link);
  EXPECT_EQ(link.lost(), 12u);
  EXPECT_STREQ(link.mode(), "helper");
}

TEST(HelperLink, FallsBackWhenTheHelperStopsAndReconnectsWhenItIsBack) {
  FakeHelper helper;
  helper.listen();
  Seen seen;
  HelperLink link(helper.path(), record(seen), 0ms);
  link.maintain(Clock::now());
  ASSERT_TRUE(helper.accept());
  helper.send(FakeHelper::hello_for_user_1000());
  pump(link);
  ASSERT_STREQ(link.mode(), "helper");

  helper.stop();  // systemctl restart guardian-helper: the connection closes, the socket goes
  pump(link);
  EXPECT_EQ(link.fd(), -1);
  EXPECT_STREQ(link.mode(), "polling");
  ASSERT_EQ(seen.told.size(), 2u);
  EXPECT_EQ(field(seen.told[1], "HELPER"), "lost-connection");

  link.maintain(Clock::now());  // not back yet: nothing, and nothing said
  EXPECT_EQ(link.fd(), -1);
  EXPECT_EQ(seen.told.size(), 2u);

  helper.listen();  // the directory's watch sees the new socket: connected at once, no tick needed
  ASSERT_TRUE(watch_fires(link));
  ASSERT_GE(link.fd(), 0);
  EXPECT_EQ(link.connection(), 2u);  // a new connection even if the fd number is the same
  ASSERT_TRUE(helper.accept());
  helper.send(FakeHelper::hello_for_user_1000());
  pump(link);
  EXPECT_STREQ(link.mode(), "helper");
  ASSERT_EQ(seen.told.size(), 3u);
  EXPECT_EQ(field(seen.told[2], "HELPER"), "connected");
}

// The helper starts after guardian (its socket appears later): the directory's inotify watch
// fires and the link connects at once — no tick, no look at the path in between. A tick without
// an event never looks (a stat of the missing path each second cost a negative dentry each
// time under reclaim, tests/vm/FINDINGS-issue10.md).
TEST(HelperLink, ASocketAppearingLaterIsConnectedPromptly) {
  FakeHelper helper;
  Seen seen;
  HelperLink link(helper.path(), record(seen), 1000ms);
  ASSERT_GE(link.watch_fd(), 0);
  const auto start = Clock::now();
  link.maintain(start);  // the one look at start: no socket yet
  EXPECT_EQ(link.fd(), -1);
  EXPECT_FALSE(watch_fires(link, 0ms));
  for (int second = 1; second <= 5; ++second) link.maintain(start + std::chrono::seconds(second));
  EXPECT_EQ(link.fd(), -1);

  const auto listening = Clock::now();
  helper.listen();
  ASSERT_TRUE(watch_fires(link));
  ASSERT_GE(link.fd(), 0);
  EXPECT_LT(Clock::now() - listening, 1s) << "connected as the socket appeared, not at a retry";
  EXPECT_EQ(link.connection(), 1u);
  ASSERT_TRUE(helper.accept());
  helper.send(FakeHelper::hello_for_user_1000());
  pump(link);
  EXPECT_STREQ(link.mode(), "helper");
}

// The socket's directory does not exist yet (guardian-helper's RuntimeDirectory= makes it when
// the helper starts): its parent is watched for it, then the directory for the socket.
TEST(HelperLink, ADirectoryMadeLaterIsWatchedThroughItsParent) {
  FakeHelper place;  // only for its fresh temporary directory
  const std::string parent = place.path().substr(0, place.path().rfind('/'));
  const std::string directory = parent + "/run-guardian";
  const std::string path = directory + "/helper.sock";
  Seen seen;
  HelperLink link(path, record(seen), 1000ms);
  link.maintain(Clock::now());
  EXPECT_EQ(link.fd(), -1);

  ASSERT_EQ(::mkdir(directory.c_str(), 0755), 0);
  ASSERT_TRUE(watch_fires(link));  // the parent's event: now the directory is watched
  EXPECT_EQ(link.fd(), -1);
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  ASSERT_TRUE(watch_fires(link));
  EXPECT_GE(link.fd(), 0);
  EXPECT_EQ(link.connection(), 1u);
  ::unlink(path.c_str());
  ::rmdir(directory.c_str());
}

// A socket that is there but refuses (a helper between bind() and listen(), a stale file) is
// tried again after `retry`, without waiting for an event that may never come.
TEST(HelperLink, ARefusingSocketIsTriedAgainAfterTheRetryInterval) {
  FakeHelper helper;
  UniqueFd bound(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, helper.path().c_str(), sizeof address.sun_path - 1);
  ASSERT_EQ(::bind(bound.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  Seen seen;
  HelperLink link(helper.path(), record(seen), 1000ms);
  const auto start = Clock::now();
  link.maintain(start);
  EXPECT_EQ(link.fd(), -1);  // refused: not listening yet
  ASSERT_EQ(::listen(bound.get(), 4), 0);
  link.maintain(start + 500ms);
  EXPECT_EQ(link.fd(), -1);
  link.maintain(start + 1000ms);
  EXPECT_GE(link.fd(), 0);
  ::unlink(helper.path().c_str());
}

// The cgroups guardian arms its triggers on (policies/default.toml: some 150ms 2s), as on a
// Fedora desktop: user@1000.service (root's pressure file on systemd < 254) and app.slice (the
// user's, which guardian-helper cannot open without CAP_DAC_OVERRIDE).
const std::string kManager = "/user.slice/user-1000.slice/user@1000.service";
const std::string kApps = kManager + "/app.slice";

helper_wire::WatchPressure next_watch_request(FakeHelper& helper) {
  auto request = helper_wire::decode_client_request(helper.read_line());
  EXPECT_TRUE(request.ok()) << (request.ok() ? "" : request.error().message);
  if (!request.ok() || !std::holds_alternative<helper_wire::WatchPressure>(*request)) {
    ADD_FAILURE() << "not a watch-pressure request";
    return {};
  }
  return std::get<helper_wire::WatchPressure>(*request);
}

helper_wire::Reply ok_reply(uint64_t request, uint32_t watch) {
  helper_wire::Reply reply;
  reply.request = request;
  reply.ok = true;
  reply.watch = watch;
  return reply;
}

// The helper's refusal for a cgroup the user owns (guardian/helper/pressure_watches.cpp).
helper_wire::Reply refusal(uint64_t request, const std::string& cgroup) {
  helper_wire::Reply reply;
  reply.request = request;
  reply.message = "/sys/fs/cgroup" + cgroup +
                  "/memory.pressure: Permission denied (owned by uid 1000; guardian-helper runs without "
                  "CAP_DAC_OVERRIDE and opens only root's pressure files)";
  return reply;
}

// Connected and greeted, the link asks for a 500 ms watch on each cgroup; the one granted
// relays its firings to the handler, the one refused twice (short window, then the policy's) is
// left to guardian's own trigger and said once at Info.
TEST(HelperLink, AsksForPressureWatchesAndRelaysTheirFirings) {
  FakeHelper helper;
  helper.listen();
  Seen seen;
  HelperLink link(helper.path(), record(seen), 0ms);
  PsiTriggerSpec spec;  // some 150ms 2s
  link.set_pressure_watches({kManager, kApps}, spec);
  EXPECT_EQ(link.wake_source(), "guardian's own PSI triggers");
  link.maintain(Clock::now());
  ASSERT_TRUE(helper.accept());
  helper.send(FakeHelper::hello_for_user_1000());
  pump(link);

  const auto manager = next_watch_request(helper);
  EXPECT_EQ(manager.cgroup, kManager);
  EXPECT_FALSE(manager.full);
  EXPECT_EQ(manager.stall_us, 37500u);  // the same share of a 500 ms window
  EXPECT_EQ(manager.window_us, 500000u);
  const auto apps = next_watch_request(helper);
  EXPECT_EQ(apps.cgroup, kApps);
  EXPECT_EQ(apps.window_us, 500000u);

  helper.send_raw(helper_wire::encode(ok_reply(manager.request, 4)) +
                  helper_wire::encode(refusal(apps.request, kApps)));
  pump(link);
  const auto again = next_watch_request(helper);  // the policy's own window
  EXPECT_EQ(again.cgroup, kApps);
  EXPECT_EQ(again.stall_us, 150000u);
  EXPECT_EQ(again.window_us, 2000000u);
  EXPECT_EQ(link.pressure_watches_served(), 1u);
  helper.send(refusal(again.request, kApps));
  pump(link);
  ASSERT_EQ(seen.told.size(), 2u);
  EXPECT_EQ(seen.told[1].priority, Priority::Info);
  EXPECT_EQ(field(seen.told[1], "HELPER"), "watch-refused");
  EXPECT_EQ(field(seen.told[1], "CGROUP"), kApps);
  EXPECT_EQ(link.wake_source(),
            "guardian-helper's pressure watches on 1 of 2 watched cgroup(s), guardian's own PSI triggers on "
            "the rest");

  helper_wire::PressureFired fired;
  fired.ts_ns = 9'000'000'000;
  fired.watch = 4;
  fired.cgroup = kManager;
  helper.send(fired);
  pump(link);
  ASSERT_EQ(seen.pressure.size(), 1u);
  EXPECT_EQ(seen.pressure[0], 0u);  // user@1000.service
  fired.watch = 5;                  // not ours: ignored
  helper.send(fired);
  pump(link);
  EXPECT_EQ(seen.pressure.size(), 1u);

  // The same list again (every rules refresh) changes nothing; a new one drops the old watch.
  link.set_pressure_watches({kManager, kApps}, spec);
  link.set_pressure_watches({kManager}, spec);
  auto unwatch = helper_wire::decode_client_request(helper.read_line());
  ASSERT_TRUE(unwatch.ok()) << unwatch.error().message;
  ASSERT_TRUE(std::holds_alternative<helper_wire::UnwatchPressure>(*unwatch));
  EXPECT_EQ(std::get<helper_wire::UnwatchPressure>(*unwatch).watch, 4u);
  EXPECT_EQ(next_watch_request(helper).cgroup, kManager);
}

// A helper that offers no watches is not asked; one that goes away takes its watches along, and
// the next connection asks again.
TEST(HelperLink, AsksAgainAfterReconnectingAndFallsBackMeanwhile) {
  FakeHelper helper;
  helper.listen();
  Seen seen;
  HelperLink link(helper.path(), record(seen), 0ms);
  link.set_pressure_watches({kManager}, PsiTriggerSpec{});
  link.maintain(Clock::now());
  ASSERT_TRUE(helper.accept());
  helper.send(FakeHelper::hello_for_user_1000());
  pump(link);
  const auto first = next_watch_request(helper);
  helper.send(ok_reply(first.request, 1));
  pump(link);
  EXPECT_EQ(link.pressure_watches_served(), 1u);

  helper.stop();
  pump(link);
  EXPECT_EQ(link.pressure_watches_served(), 0u);
  EXPECT_EQ(link.wake_source(), "guardian's own PSI triggers");

  helper.listen();
  ASSERT_TRUE(watch_fires(link));
  ASSERT_TRUE(helper.accept());
  helper.send(FakeHelper::hello_for_user_1000());
  pump(link);
  const auto second = next_watch_request(helper);
  EXPECT_EQ(second.cgroup, kManager);
  EXPECT_EQ(second.window_us, 500000u);
  helper.send(ok_reply(second.request, 1));
  pump(link);
  EXPECT_EQ(link.pressure_watches_served(), 1u);

  // A helper without pressure watches (hello pressure=0) is never asked.
  helper.stop();
  pump(link);
  helper.listen();
  ASSERT_TRUE(watch_fires(link));
  ASSERT_TRUE(helper.accept());
  auto hello = FakeHelper::hello_for_user_1000();
  hello.pressure = false;
  helper.send(hello);
  pump(link);
  link.prekill_done(9);  // the next line the helper reads is this, not a watch request
  auto next = helper_wire::decode_client_request(helper.read_line());
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_TRUE(std::holds_alternative<helper_wire::PrekillDone>(*next));
  EXPECT_EQ(link.wake_source(), "guardian's own PSI triggers");
}

}  // namespace
}  // namespace guardian
