// The Jellyfin watcher against a dead, lying and healthy fake Jellyfin: on_tick (the loop's
// thread) stays fast whatever Jellyfin does; the breaker opens and says so; the transcode view
// still comes from /proc when Jellyfin does not answer.
#include "jellyfin/jellyfin_watcher.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "jellyfin/instances.h"
#include "jellyfin/status.h"
#include "support/fake_jellyfin.h"
#include "support/scratch_dir.h"

namespace guardian {
namespace {

using namespace std::chrono_literals;

class RecordingLoop final : public DaemonLoop {
 public:
  void request_reload() override {}
  void request_rescan() override {}
  void request_tick() override {}
  void tell(const Event& event) override { told.push_back(event); }
  void note_oomd_kill(MonoTime) override {}
  [[nodiscard]] std::string explain() const override { return ""; }
  std::vector<Event> told;
};

class WatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fake_.running());
    auto settings = fake_.settings(dir_.path());
    settings.timeout = 300ms;
    settings.poll_interval = 50ms;
    settings.cgroup = "app.slice/jellyfin.service";
    policy_.jellyfin.push_back(settings);
    // A fixture cgroup with no processes (the ffmpeg side is tested in tests/jellyfin/transcodes_test).
    dir_.write(
        "root/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/jellyfin.service/"
        "cgroup.procs",
        "");
    layout_.cgroup2_mount = "/sys/fs/cgroup";
    layout_.memory_controller = true;
    layout_.user_manager_path = "/user.slice/user-1000.slice/user@1000.service";
    tick_.layout = &layout_;
  }
  // Ticks like the loop does for `duration`, returning the slowest on_tick.
  std::chrono::nanoseconds tick_for(JellyfinWatcher& watcher, std::chrono::milliseconds duration) {
    std::chrono::nanoseconds slowest{0};
    auto end = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < end) {
      auto start = std::chrono::steady_clock::now();
      watcher.on_tick(tick_);
      slowest = std::max(slowest, std::chrono::steady_clock::now() - start);
      std::this_thread::sleep_for(5ms);
    }
    return slowest;
  }
  testing::FakeJellyfin fake_{"4f1b2c3d4e5f60718293a4b5c6d7e8f9"};
  test::ScratchDir dir_{"watch"};
  Policy policy_;
  HostLayout layout_;
  TickView tick_;
  RecordingLoop loop_;
  jellyfin::InstanceDirectory instances_;  // the daemon's, here the test's
};

TEST_F(WatcherTest, DeadJellyfinNeverStallsATickAndOpensTheBreaker) {
  fake_.set_mode("hang");
  JellyfinWatcher watcher({dir_ / "root", "", 1s, {}, {}, &instances_});
  watcher.on_policy(policy_);
  watcher.start(loop_);
  auto slowest = tick_for(watcher, 1500ms);
  // A tick that waited on Jellyfin would take the request timeout (300 ms); the bound leaves room for
  // a preempted tick under AddressSanitizer on a busy machine (the tick itself takes microseconds).
  EXPECT_LT(slowest, 100ms) << "on_tick waited on Jellyfin";
  auto events = watcher.take_events();
  ASSERT_FALSE(events.empty());
  EXPECT_NE(events.back().message.find("unreachable, not calling it for a while"), std::string::npos)
      << events.back().message;
  auto instance = instances_.find("home");
  ASSERT_TRUE(instance.ok());
  EXPECT_EQ(instance->client->breaker().state() == jellyfin::CircuitBreaker::State::Closed, false);
  // Degraded, not blind: the view still comes from /proc and the cgroup.
  ASSERT_TRUE(instance->view);
  EXPECT_FALSE(instance->view->sessions_known);
  EXPECT_NE(instance->cgroup_host_path.find("app.slice/jellyfin.service"), std::string::npos);
  auto stop_start = std::chrono::steady_clock::now();
  watcher.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_start, 1s);  // at most one request timeout
}

TEST_F(WatcherTest, LyingJellyfinIsContained) {
  fake_.set_mode("lying");
  JellyfinWatcher watcher({dir_ / "root", "", 1s, {}, {}, &instances_});
  watcher.on_policy(policy_);
  watcher.start(loop_);
  EXPECT_LT(tick_for(watcher, 600ms), 100ms);  // below the 300-ms request timeout, as above
  auto instance = instances_.find("home");
  ASSERT_TRUE(instance.ok() && instance->view);
  EXPECT_FALSE(instance->view->sessions_known);
  EXPECT_NE(
      instance->client->breaker().last_error().find("GET " + fake_.url() + "/Sessions: expected an array"),
      std::string::npos)
      << instance->client->breaker().last_error();
}

TEST_F(WatcherTest, HealthyJellyfinPublishesSessionsAndEventsReachTheLoop) {
  JellyfinWatcher watcher({dir_ / "root", "", 1s, {}, {}, &instances_});
  watcher.on_policy(policy_);
  watcher.start(loop_);
  watcher.on_tick(tick_);
  for (int i = 0; i < 100 && watcher.rounds() < 3; ++i) std::this_thread::sleep_for(20ms);
  auto instance = instances_.find("home");
  ASSERT_TRUE(instance.ok() && instance->view);
  EXPECT_TRUE(instance->view->sessions_known);
  EXPECT_EQ(instance->view->sessions.size(), 4u);
  // alice's and the kids' sessions say "transcoding" but no ffmpeg runs in the fixture cgroup.
  EXPECT_EQ(instance->view->sessions_without_process.size(), 2u);
  auto status = jellyfin::status_json(instances_.all());
  EXPECT_EQ(status[0]["circuit"], "closed");
  // The breaker-open event is told on the loop thread via the eventfd.
  fake_.set_mode("error500");
  for (int i = 0; i < 100 && loop_.told.empty(); ++i) {
    std::this_thread::sleep_for(20ms);
    watcher.on_fd_ready(watcher.fds().front());
  }
  ASSERT_FALSE(loop_.told.empty());
  EXPECT_NE(loop_.told.back().message.find("HTTP 500"), std::string::npos);
}

// Issue 11, defect 7: /Sessions answered with something that is not JSON was silent and never
// opened the breaker. Defect 10: the breaker said "unreachable" for every kind of failure.
TEST_F(WatcherTest, AnswersThatAreNotJsonOpenTheBreakerAndSaySo) {
  fake_.set_mode("garbage");
  JellyfinWatcher watcher({dir_ / "root", "", 1s, {}, {}, &instances_});
  watcher.on_policy(policy_);
  watcher.start(loop_);
  std::string told;
  for (int i = 0; i < 100 && told.empty(); ++i) {
    std::this_thread::sleep_for(20ms);
    for (const auto& event : watcher.take_events()) {
      if (event.message.find("not calling it for a while") != std::string::npos) told = event.message;
    }
  }
  EXPECT_NE(told.find("Jellyfin \"home\" answers with something guardian cannot read"), std::string::npos)
      << told;
  EXPECT_NE(told.find("/Sessions: not JSON"), std::string::npos) << told;
  EXPECT_EQ(told.find("unreachable"), std::string::npos) << told;
}

TEST_F(WatcherTest, ARefusedKeyIsSaidToBeRefusedNotUnreachable) {
  std::string key_file = dir_ / "wrong.key";
  { std::ofstream(key_file) << "00000000000000000000000000000000\n"; }
  ::chmod(key_file.c_str(), 0600);
  policy_.jellyfin[0].api_key_file = key_file;
  JellyfinWatcher watcher({dir_ / "root", "", 1s, {}, {}, &instances_});
  watcher.on_policy(policy_);
  watcher.start(loop_);
  std::string told;
  for (int i = 0; i < 100 && told.empty(); ++i) {
    std::this_thread::sleep_for(20ms);
    for (const auto& event : watcher.take_events()) {
      if (event.message.find("not calling it for a while") != std::string::npos) told = event.message;
    }
  }
  EXPECT_NE(told.find("Jellyfin \"home\" refuses guardian's API key"), std::string::npos) << told;
}

// Issue 11, defect 10: a key file fixed after the policy loaded was taken only on SIGHUP, and the
// error did not say so.
TEST_F(WatcherTest, AKeyFileFixedMeanwhileIsTakenWithoutARestart) {
  const std::string key_file = policy_.jellyfin[0].api_key_file;
  ::chmod(key_file.c_str(), 0644);  // readable by others: refused
  JellyfinWatcher watcher({dir_ / "root", "", 1s, {}, {}, &instances_});
  watcher.on_policy(policy_);
  auto first = watcher.take_events();
  ASSERT_FALSE(first.empty());
  EXPECT_NE(first.front().message.find("a fixed file is taken without a restart"), std::string::npos)
      << first.front().message;
  watcher.start(loop_);
  std::this_thread::sleep_for(150ms);
  EXPECT_FALSE(instances_.find("home")->client);
  ::chmod(key_file.c_str(), 0600);
  bool taken = false;
  for (int i = 0; i < 100 && !taken; ++i) {
    std::this_thread::sleep_for(20ms);
    auto instance = instances_.find("home");
    taken = instance.ok() && instance->client && instance->view && instance->view->sessions_known;
  }
  EXPECT_TRUE(taken);
  bool said = false;
  for (const auto& event : watcher.take_events())
    said = said || event.message.find("the API key is readable now") != std::string::npos;
  EXPECT_TRUE(said);
}

}  // namespace
}  // namespace guardian

namespace guardian {
namespace {

TEST_F(WatcherTest, ProbesVaapiInAChildAndPublishesTheVerdict) {
  // The real `guardian probe vaapi` binary; this machine has no /dev/dri, so the verdict is "no".
  std::atomic<int> vaapi_published{-1};
  JellyfinWatcher watcher(
      {"",
       GUARDIAN_BINARY,
       10s,
       {},
       [&](std::optional<bool> available) { vaapi_published = available ? (*available ? 1 : 0) : -1; },
       &instances_});
  watcher.on_policy(policy_);
  watcher.start(loop_);
  std::optional<jellyfin::Instance> instance;
  for (int i = 0; i < 200; ++i) {
    auto found = instances_.find("home");
    if (found.ok() && found->probe) {
      instance = *found;
      break;
    }
    std::this_thread::sleep_for(25ms);
  }
  ASSERT_TRUE(instance) << "no probe result within 5 s";
  for (int i = 0; i < 40 && vaapi_published == -1; ++i) std::this_thread::sleep_for(25ms);
  EXPECT_EQ(vaapi_published, 0);  // guardian_vaapi_available 0
  EXPECT_FALSE(instance->probe->available());
  EXPECT_TRUE(instance->probe->libva_loaded);
  bool told = false;
  for (const auto& event : watcher.take_events()) {
    told = told || event.message.starts_with("VA-API not available on /dev/dri/renderD128: render node");
  }
  EXPECT_TRUE(told);
  // The daemon process itself never mapped libva or FFmpeg.
  auto maps = read_file("/proc/self/maps");
  ASSERT_TRUE(maps.ok());
  EXPECT_EQ(maps->find("libva"), std::string::npos);
  EXPECT_EQ(maps->find("libavcodec"), std::string::npos);
}

}  // namespace
}  // namespace guardian

namespace guardian {
namespace {

// guardian-helper's exec event of an ffmpeg in the instance's cgroup makes the watcher look now,
// not at the end of its interval; an ffprobe, or an ffmpeg elsewhere, does not.
TEST_F(WatcherTest, AnFfmpegStartInTheInstanceLooksAtOnce) {
  policy_.jellyfin.front().poll_interval = 30s;
  JellyfinWatcher watcher({dir_ / "root", "", 1s, {}, {}, &instances_});
  watcher.on_policy(policy_);
  watcher.start(loop_);
  watcher.on_tick(tick_);  // where cgroups live
  for (int i = 0; i < 250 && watcher.rounds() < 1; ++i) std::this_thread::sleep_for(20ms);
  ASSERT_EQ(watcher.rounds(), 1u);

  helper_wire::ProcessExec exec;
  exec.pid = 4242;
  exec.comm = "ffprobe";
  exec.cgroup = layout_.user_manager_path + "/app.slice/jellyfin.service";
  watcher.on_process_started(exec);
  exec.comm = "ffmpeg";
  exec.cgroup = layout_.user_manager_path + "/app.slice/other.service";
  watcher.on_process_started(exec);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(watcher.rounds(), 1u);

  exec.cgroup = layout_.user_manager_path + "/app.slice/jellyfin.service";
  watcher.on_process_started(exec);
  for (int i = 0; i < 250 && watcher.rounds() < 2; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(watcher.rounds(), 2u);
}

}  // namespace
}  // namespace guardian
