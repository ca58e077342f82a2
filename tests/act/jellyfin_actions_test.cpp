// The Jellyfin actions against the fake Jellyfin (real HTTP, fixtures shaped like 10.10/10.11).
#include "act/jellyfin_actions.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <thread>

#include "act/state_store.h"
#include "common/host_root.h"
#include "jellyfin/instances.h"
#include "support/fake_jellyfin.h"
#include "support/ffmpeg_jobs.h"

namespace guardian {
namespace {

using nlohmann::json;
using testing::FakeJellyfin;
using namespace std::chrono_literals;
using Outcome = ActionResult::Outcome;

constexpr const char* kKey = "4f1b2c3d4e5f60718293a4b5c6d7e8f9";

// Fields whose values differ between two EncodingOptions objects.
std::set<std::string> changed_fields(const json& before, const json& after) {
  std::set<std::string> out;
  for (const auto& [k, v] : before.items()) {
    if (!after.contains(k) || after[k] != v) out.insert(k);
  }
  for (const auto& [k, v] : after.items()) {
    if (!before.contains(k)) out.insert(k);
  }
  return out;
}

class JellyfinActionsTest : public ::testing::Test {
 protected:
  void SetUp() override { setup("10.11"); }
  void setup(const std::string& version) {
    char tmpl[] = "/tmp/guardian-jfact-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    fake_ = std::make_unique<FakeJellyfin>(kKey, version, dir_ + "/server-encoding.json");
    ASSERT_TRUE(fake_->running());
    settings_ = fake_->settings(dir_);
    settings_.user_priority = {{"kids", 10}, {"alice", 100}};
    install_directory();
    state_ = std::make_unique<StateStore>(dir_ + "/state.json");
    ASSERT_TRUE(state_->load().ok());
    env_.host = &host_;
    env_.state = state_.get();
    env_.jellyfin = &instances_;
    register_jellyfin_actions(registry_);
    original_ = fake_->encoding();
  }
  void install_directory(std::optional<VaapiProbeResult> probe = std::nullopt, std::string cgroup_path = "") {
    auto client = jellyfin::make_client(settings_);
    ASSERT_TRUE(client.ok()) << client.error().message;
    jellyfin::Instance instance;
    instance.settings = settings_;
    instance.client = *client;
    instance.probe = std::move(probe);
    instance.cgroup_host_path = std::move(cgroup_path);
    instances_.set_instances({});  // fresh client and breaker per test
    instances_.set_instances({instance});
  }
  void TearDown() override {
    fake_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<Action> make(const std::string& type, std::map<std::string, Param> params = {}) {
    ActionSpec spec;
    spec.type = type;
    spec.params = std::move(params);
    const auto* entry = registry_.find(type);
    EXPECT_NE(entry, nullptr) << type;
    EXPECT_TRUE(entry->validate(spec).empty());
    auto action = entry->create(spec, env_);
    EXPECT_TRUE(action.ok());
    return std::move(*action);
  }
  static Deadline in(std::chrono::milliseconds ms) { return std::chrono::steady_clock::now() + ms; }
  json posted_encodings() {
    json out = json::array();
    for (const auto& r : fake_->requests()) {
      if (r["method"] == "POST" && r["path"] == "/System/Configuration/encoding")
        out.push_back(json::parse(std::string(r["body"])));
    }
    return out;
  }

  std::string dir_;
  std::unique_ptr<FakeJellyfin> fake_;
  JellyfinInstanceSettings settings_;
  HostRoot host_;
  std::unique_ptr<StateStore> state_;
  jellyfin::InstanceDirectory instances_;  // the daemon's, here the test's
  ActionEnv env_;
  ActionRegistry registry_;
  json original_;
};

TEST_F(JellyfinActionsTest, CheaperSoftwarePostsWholeObjectWithOnlyItsFieldsAndRevertsExactly) {
  auto action = make("jellyfin.cheaper-software",
                     {{"preset", {std::string("veryfast"), {}}}, {"threads", {int64_t{2}, {}}}});
  auto applied = action->apply(in(5s));
  ASSERT_EQ(applied.outcome, Outcome::Applied) << applied.detail;
  auto posts = posted_encodings();
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(posts[0].size(), original_.size());  // the whole object, all 47 fields
  EXPECT_EQ(changed_fields(original_, posts[0]),
            (std::set<std::string>{"EncoderPreset", "EncodingThreadCount", "H264Crf", "H265Crf",
                                   "MaxMuxingQueueSize", "EnableThrottling", "EnableSegmentDeletion",
                                   "SegmentKeepSeconds"}));
  EXPECT_EQ(posts[0]["EncoderPreset"], "veryfast");
  EXPECT_EQ(posts[0]["EncodingThreadCount"], 2);
  EXPECT_EQ(posts[0]["EncoderAppPath"], original_["EncoderAppPath"]);  // echoed unchanged
  // The original is in the state file before anything else.
  auto saved = state_->get("jellyfin/home/encoding-options/jellyfin.cheaper-software");
  ASSERT_TRUE(saved);
  EXPECT_EQ(saved->kind, "jellyfin.encoding-options");
  EXPECT_EQ(json::parse(saved->original_json)["original"], original_);

  auto reverted = action->revert(in(5s));
  ASSERT_EQ(reverted.outcome, Outcome::Reverted) << reverted.detail;
  EXPECT_EQ(fake_->encoding(), original_);
  EXPECT_FALSE(state_->get("jellyfin/home/encoding-options/jellyfin.cheaper-software"));
}

TEST_F(JellyfinActionsTest, PreferVaapiUsesTheProbedCodecsAndReverts) {
  // A recorded probe of an Intel UHD 630 (iHD driver): these machines have no /dev/dri.
  VaapiProbeResult probe;
  probe.node_openable = probe.va_initialized = probe.ffmpeg_hwdevice = true;
  probe.hardware_decoding_codecs = {"h264", "hevc", "mpeg2video", "vc1", "vp8", "vp9"};
  probe.hardware_encoding_codecs = {"h264", "hevc"};
  install_directory(probe);
  auto action = make("jellyfin.prefer-vaapi");
  auto applied = action->apply(in(5s));
  ASSERT_EQ(applied.outcome, Outcome::Applied) << applied.detail;
  auto now = fake_->encoding();
  EXPECT_EQ(changed_fields(original_, now),
            (std::set<std::string>{"EnableHardwareEncoding", "HardwareDecodingCodecs"}));
  EXPECT_EQ(now["HardwareDecodingCodecs"], json({"h264", "hevc", "mpeg2video", "vc1", "vp8", "vp9"}));
  EXPECT_EQ(now["EnableHardwareEncoding"], true);
  // Applying again changes nothing and keeps the first original.
  EXPECT_EQ(action->apply(in(5s)).outcome, Outcome::Unchanged);
  ASSERT_EQ(action->revert(in(5s)).outcome, Outcome::Reverted);
  EXPECT_EQ(fake_->encoding(), original_);
}

TEST_F(JellyfinActionsTest, RevertLeavesAFieldTheUserChangedMeanwhile) {
  auto action = make("jellyfin.cheaper-software");
  ASSERT_EQ(action->apply(in(5s)).outcome, Outcome::Applied);
  // The user picks another preset in the dashboard while guardian's change is in force.
  auto client = *jellyfin::make_client(settings_);
  auto current = client->get_encoding_options(in(2s));
  ASSERT_TRUE(current.ok());
  current->raw["EncoderPreset"] = "faster";
  ASSERT_TRUE(client->post_encoding_options(current->raw, in(2s)).ok());
  auto reverted = action->revert(in(5s));
  ASSERT_EQ(reverted.outcome, Outcome::Reverted);
  EXPECT_NE(reverted.detail.find("EncoderPreset (changed since to faster)"), std::string::npos)
      << reverted.detail;
  auto now = fake_->encoding();
  EXPECT_EQ(changed_fields(original_, now), std::set<std::string>{"EncoderPreset"});
  EXPECT_EQ(now["EncoderPreset"], "faster");
}

TEST_F(JellyfinActionsTest, KillNineMidChangeIsRestoredAtNextStart) {
  std::string state_path = dir_ + "/crash-state.json";
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The "guardian" that crashes: applies two changes, then dies by SIGKILL before reverting.
    StateStore store(state_path);
    if (!store.load().ok()) ::_exit(3);
    ActionEnv env = env_;
    env.state = &store;
    for (const char* type : {"jellyfin.cheaper-software", "jellyfin.pause-background-tasks"}) {
      ActionSpec spec;
      spec.type = type;
      auto action = registry_.find(type)->create(spec, env);
      if (!action.ok() || (*action)->apply(in(5s)).outcome != Outcome::Applied) ::_exit(4);
    }
    ::kill(::getpid(), SIGKILL);
    ::_exit(5);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exit " << WEXITSTATUS(status);
  ASSERT_EQ(WTERMSIG(status), SIGKILL);
  ASSERT_NE(fake_->encoding(), original_);  // the change is live on the server
  auto tasks_before = fake_->fixture("scheduled-tasks.json");

  // The next guardian: a new process state (a fresh directory with no instances, as before the
  // policy is read), the state file, and the built-in registry's restorers.
  jellyfin::InstanceDirectory next_instances;
  ActionEnv next_env;
  next_env.jellyfin = &next_instances;
  StateStore next(state_path);
  ASSERT_TRUE(next.load().ok());
  auto entries = next.entries();
  ASSERT_EQ(entries.size(), 2u);
  for (const auto& [key, saved] : entries) {
    const Restorer* restore = builtin_actions().restorer(saved.kind);
    ASSERT_NE(restore, nullptr) << saved.kind;
    auto restored = (*restore)(next_env, key, saved.original_json, in(5s));
    ASSERT_TRUE(restored.ok()) << restored.error().message;
    ASSERT_TRUE(next.forget(key).ok());
  }
  EXPECT_EQ(fake_->encoding(), original_);
  // Both stopped tasks were started again.
  std::vector<std::string> restarted;
  for (const auto& r : fake_->requests()) {
    if (r["method"] == "POST" && std::string(r["path"]).starts_with("/ScheduledTasks/Running/"))
      restarted.push_back(r["path"]);
  }
  EXPECT_EQ(restarted.size(), 2u);
}

TEST_F(JellyfinActionsTest, PauseBackgroundTasksAndRestart) {
  auto action = make("jellyfin.pause-background-tasks");
  auto applied = action->apply(in(5s));
  ASSERT_EQ(applied.outcome, Outcome::Applied) << applied.detail;
  EXPECT_NE(applied.detail.find("stopped Generate Trickplay Images"), std::string::npos);
  EXPECT_NE(applied.detail.find("stopped Extract Chapter Images"), std::string::npos);
  ASSERT_EQ(action->revert(in(5s)).outcome, Outcome::Reverted);
  std::vector<std::string> calls;
  for (const auto& r : fake_->requests()) {
    if (std::string(r["path"]).starts_with("/ScheduledTasks/Running/"))
      calls.push_back(std::string(r["method"]) + " " + std::string(r["path"]));
  }
  EXPECT_EQ(calls,
            (std::vector<std::string>{"DELETE /ScheduledTasks/Running/7738148ffcd07979c7ceb148e06b3aed",
                                      "DELETE /ScheduledTasks/Running/4e6637c832ed644d1af3370a2506e80a",
                                      "POST /ScheduledTasks/Running/7738148ffcd07979c7ceb148e06b3aed",
                                      "POST /ScheduledTasks/Running/4e6637c832ed644d1af3370a2506e80a"}));
}

TEST_F(JellyfinActionsTest, CapBitrateCommandsAndMessagesTranscodingSessionsOnly) {
  auto action = make("jellyfin.cap-bitrate", {{"bitrate", {int64_t{3000000}, {}}}});
  auto applied = action->apply(in(5s));
  ASSERT_EQ(applied.outcome, Outcome::Applied) << applied.detail;
  std::vector<std::string> paths;
  for (const auto& r : fake_->requests()) {
    if (r["method"] == "POST") paths.push_back(r["path"]);
  }
  // alice and kids transcode; bob direct-plays and the idle app plays nothing.
  EXPECT_EQ(paths, (std::vector<std::string>{"/Sessions/3b1f5e0c9a2d4e6f8b7c1d2e3f4a5b6c/Command",
                                             "/Sessions/3b1f5e0c9a2d4e6f8b7c1d2e3f4a5b6c/Message",
                                             "/Sessions/7d6c5b4a39281706f5e4d3c2b1a09f8e/Command",
                                             "/Sessions/7d6c5b4a39281706f5e4d3c2b1a09f8e/Message"}));
}

TEST_F(JellyfinActionsTest, StopLowestPriorityMessagesFirstThenStops) {
  auto action = make("jellyfin.stop-lowest-priority", {{"message_seconds", {0.2, {}}}});
  auto applied = action->apply(in(5s));
  ASSERT_EQ(applied.outcome, Outcome::Applied) << applied.detail;
  EXPECT_NE(applied.detail.find("kids on Jellyfin Android TV"), std::string::npos) << applied.detail;
  std::vector<std::string> posts;
  for (const auto& r : fake_->requests()) {
    if (r["method"] == "POST") posts.push_back(r["path"]);
  }
  EXPECT_EQ(posts, (std::vector<std::string>{"/Sessions/7d6c5b4a39281706f5e4d3c2b1a09f8e/Message",
                                             "/Sessions/7d6c5b4a39281706f5e4d3c2b1a09f8e/Playing/Stop"}));
  EXPECT_EQ(action->revert(in(5s)).outcome, Outcome::Unchanged);
}

TEST_F(JellyfinActionsTest, PreferVaapiRefusesWhenTypeIsNotVaapi) {
  TearDown();
  setup("10.10");  // HardwareAccelerationType "none"
  auto applied = make("jellyfin.prefer-vaapi")->apply(in(5s));
  ASSERT_EQ(applied.outcome, Outcome::Failed);
  EXPECT_NE(applied.detail.find("HardwareAccelerationType is \"none\""), std::string::npos);
  EXPECT_TRUE(posted_encodings().empty());
  EXPECT_TRUE(state_->entries().empty());
}

TEST_F(JellyfinActionsTest, DeadJellyfinFailsWithinTheDeadline) {
  fake_->set_mode("hang");
  auto start = std::chrono::steady_clock::now();
  auto applied = make("jellyfin.cheaper-software")->apply(in(700ms));
  EXPECT_EQ(applied.outcome, Outcome::Failed);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1200ms);
  EXPECT_TRUE(state_->entries().empty());  // nothing saved: nothing was changed
}

TEST_F(JellyfinActionsTest, ValidationNamesBadArguments) {
  ActionSpec spec;
  spec.type = "jellyfin.cheaper-software";
  spec.params["preset"] = {std::string("warp9"), {"p.toml", 12, 5}};
  spec.params["threads"] = {int64_t{0}, {"p.toml", 13, 5}};
  auto problems = registry_.find(spec.type)->validate(spec);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].first.find("preset \"warp9\""), std::string::npos);
  EXPECT_EQ(problems[0].second.line, 12u);
  EXPECT_NE(problems[1].first.find("threads must be between 1 and 64"), std::string::npos);
}

TEST_F(JellyfinActionsTest, RespawnEndsOnlySoftwarePlaybackFfmpegsInTheCgroup) {
  testing::FfmpegJobs jobs;
  ASSERT_TRUE(jobs.ok());
  pid_t software = jobs.start_software_hls();
  pid_t remux = jobs.start_remux_hls();
  pid_t sleeper = jobs.start_sleep();
  pid_t outside = jobs.start_software_hls();  // a software transcode NOT in the instance's cgroup
  const std::string cgroup =
      "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/jellyfin.service";
  std::string root = jobs.make_host_root(cgroup, {sleeper}, {software, remux});
  std::this_thread::sleep_for(800ms);
  HostRoot host(root);
  env_.host = &host;
  install_directory(std::nullopt, cgroup);
  auto applied = make("jellyfin.respawn-software-transcodes")->apply(in(5s));
  ASSERT_EQ(applied.outcome, Outcome::Applied) << applied.detail;
  // ffmpeg catches SIGTERM and ends its muxers cleanly (exit status 255), as with Jellyfin's 'q'.
  bool ended = false;
  for (int i = 0; i < 150 && !ended; ++i) {
    ended = jobs.exited(software);
    if (!ended) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(ended);
  EXPECT_FALSE(jobs.exited(remux));
  EXPECT_FALSE(jobs.exited(sleeper));
  EXPECT_FALSE(jobs.exited(outside));
}

}  // namespace
}  // namespace guardian
