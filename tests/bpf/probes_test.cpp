// The BPF probes, loaded for real (root, kernel BTF) against a test cgroup tree, seeing real
// processes: an exec of ffmpeg, a SIGKILL from a process named systemd-oomd. The kernel OOM kill
// is provoked only inside the VM test bed (tests/vm, scenario `helper`): never on a build machine.
#include "helper/probes.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "helper/cgroup_tree.h"
#include "helper/support/as_user.h"
#include "helper/support/test_cgroups.h"

namespace guardian::helper {
namespace {

using guardian::testing::run_in;
using guardian::testing::running_as_root;
using guardian::testing::TestCgroups;

constexpr uid_t kAlice = 1000;

// A one-second lavfi clip encoded to nothing: a real ffmpeg that starts and exits on its own.
const std::vector<std::string> kFfmpeg = {"ffmpeg",    "-hide_banner", "-nostdin",
                                          "-loglevel", "error",        "-f",
                                          "lavfi",     "-i",           "testsrc=size=64x64:rate=5:duration=1",
                                          "-f",        "null",         "-"};

class ProbesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!running_as_root()) GTEST_SKIP() << "loading BPF programs needs root";
    if (::access("/sys/kernel/btf/vmlinux", R_OK) != 0) GTEST_SKIP() << "no kernel BTF";
    auto cgroups = TestCgroups::create({kAlice});
    ASSERT_TRUE(cgroups.ok()) << cgroups.error().message;
    cgroups_.emplace(std::move(*cgroups));
    auto tree = CgroupTree::open(cgroups_->mount(), cgroups_->scope());
    ASSERT_TRUE(tree.ok()) << tree.error().message;
    ProbeOptions options;
    options.scope_cgroup_id = tree->scope_id();
    options.scope_level = tree->scope_level();
    auto probes = Probes::load(options);
    ASSERT_TRUE(probes.ok()) << probes.error().message;
    probes_.emplace(std::move(*probes));
    for (const auto& s : probes_->status()) {
      ASSERT_TRUE(s.loaded) << s.name << ": " << s.error;
      RecordProperty("load_ms_" + s.name, std::to_string(s.load_ms));
    }
  }

  // Everything the probes report within `ms`.
  std::vector<RawEvent> collect(int ms) {
    std::vector<RawEvent> events;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < deadline) {
      epoll_event ready{};
      if (::epoll_wait(probes_->epoll_fd(), &ready, 1, 20) <= 0) continue;
      auto consumed = probes_->consume([&](Result<RawEvent> record) {
        ASSERT_TRUE(record.ok()) << record.error().message;
        events.push_back(*record);
      });
      EXPECT_TRUE(consumed.ok());
    }
    return events;
  }

  template <class T>
  static std::vector<T> only(const std::vector<RawEvent>& events) {
    std::vector<T> out;
    for (const auto& e : events) {
      if (const auto* t = std::get_if<T>(&e)) out.push_back(*t);
    }
    return out;
  }

  std::optional<TestCgroups> cgroups_;
  std::optional<Probes> probes_;
};

TEST_F(ProbesTest, AnExecOfFfmpegInTheScopeArrivesWithItsArgvAndItsExit) {
  const int status = run_in(*cgroups_, cgroups_->app(kAlice), kFfmpeg, kAlice);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "ffmpeg status " << status;
  const auto events = collect(500);
  const auto execs = only<exec_event>(events);
  const auto exits = only<exit_event>(events);
  ASSERT_EQ(execs.size(), 1u);
  ASSERT_EQ(exits.size(), 1u);
  const exec_event& exec = execs[0];
  EXPECT_EQ(exec.uid, kAlice);
  EXPECT_EQ(exec.cgroup_id, cgroups_->id_of(cgroups_->app(kAlice)));
  EXPECT_EQ(exec.owner_cgroup_id, cgroups_->id_of(cgroups_->owner(kAlice)));
  EXPECT_EQ(c_string(exec.comm, sizeof(exec.comm)), "ffmpeg");
  EXPECT_EQ(exec.ppid, static_cast<__u32>(::getpid()));
  bool truncated = true;
  const auto argv = split_args(exec, truncated);
  EXPECT_EQ(argv, kFfmpeg);
  EXPECT_FALSE(truncated);
  EXPECT_EQ(exits[0].pid, exec.pid);
  EXPECT_EQ(exits[0].exit_code, 0);
  EXPECT_GT(exits[0].runtime_ns, 0u);
  EXPECT_EQ(exits[0].cgroup_id, exec.cgroup_id);
}

TEST_F(ProbesTest, OtherProgramsAndCgroupsOutsideTheScopeAreFilteredInTheKernel) {
  ASSERT_EQ(run_in(*cgroups_, cgroups_->outside(), kFfmpeg), 0);
  ASSERT_EQ(run_in(*cgroups_, cgroups_->app(kAlice), {"true"}, kAlice), 0);
  ASSERT_EQ(run_in(*cgroups_, cgroups_->app(kAlice), {"ffprobe", "-version"}, kAlice), 0);
  const auto events = collect(500);
  const auto execs = only<exec_event>(events);
  ASSERT_EQ(execs.size(), 1u) << "only ffprobe in the scope";
  EXPECT_EQ(c_string(execs[0].comm, sizeof(execs[0].comm)), "ffprobe");
}

// Sends SIGKILL to `victim` from a child process that renamed itself to `name` (the kernel's
// comm, what the probe compares), like systemd-oomd killing a cgroup's process.
void kill_as(const char* name, pid_t victim, int signal) {
  const pid_t sender = ::fork();
  ASSERT_GE(sender, 0);
  if (sender == 0) {
    ::prctl(PR_SET_NAME, name, 0, 0, 0);
    ::_exit(::kill(victim, signal) == 0 ? 0 : 1);
  }
  int status = 0;
  ::waitpid(sender, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(ProbesTest, ASigkillFromAProcessNamedSystemdOomdArrivesWithTheTargetsCgroup) {
  auto sleeper = cgroups_->spawn(cgroups_->app(kAlice), {"sleep", "30"}, kAlice);
  ASSERT_TRUE(sleeper.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // it is in its cgroup and running
  kill_as("bash", *sleeper, SIGKILL);                           // not oomd: ignored
  auto second = cgroups_->spawn(cgroups_->app(kAlice), {"sleep", "30"}, kAlice);
  ASSERT_TRUE(second.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  kill_as("systemd-oomd", *second, SIGTERM);  // oomd, but not SIGKILL: ignored
  auto third = cgroups_->spawn(cgroups_->app(kAlice), {"sleep", "30"}, kAlice);
  ASSERT_TRUE(third.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  kill_as("systemd-oomd", *third, SIGKILL);
  for (pid_t pid : {*sleeper, *second, *third}) ::waitpid(pid, nullptr, 0);

  const auto kills = only<oomd_kill_event>(collect(500));
  ASSERT_EQ(kills.size(), 1u);
  EXPECT_EQ(kills[0].tgid, static_cast<__u32>(*third));
  EXPECT_EQ(kills[0].uid, kAlice);
  EXPECT_EQ(kills[0].cgroup_id, cgroups_->id_of(cgroups_->app(kAlice)));
  EXPECT_EQ(kills[0].owner_cgroup_id, cgroups_->id_of(cgroups_->owner(kAlice)));
  EXPECT_EQ(c_string(kills[0].sender_comm, sizeof(kills[0].sender_comm)), "systemd-oomd");
  EXPECT_EQ(c_string(kills[0].comm, sizeof(kills[0].comm)), "sleep");
  EXPECT_EQ(kills[0].result, 0) << "TRACE_SIGNAL_DELIVERED";
}

TEST_F(ProbesTest, TheKernelOomProbeLoadsAndAttachesHere) {
  // mark_victim's arguments differ between kernels (a pid up to 6.8, the task after); the probe
  // chose its path by CO-RE when it loaded. Its event is provoked in the VM test bed only.
  const auto names = probes_->loaded_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "oom-kill"), names.end());
  EXPECT_TRUE(only<oom_kill_event>(collect(200)).empty());
}

}  // namespace
}  // namespace guardian::helper
