#include "sense/sampler.h"

#include <gtest/gtest.h>
#include <sys/xattr.h>

#include <cstring>
#include <filesystem>

#include "sense/fixture_support.h"
#include "sense/meminfo.h"

namespace guardian {
namespace {

using guardian::testing::fixture;
using guardian::testing::FixtureCopy;
using guardian::testing::rewrite;

const std::string kManager = "/user.slice/user-1000.slice/user@1000.service";
const std::string kJellyfin =
    kManager + "/user.slice/libpod-28d81f2e7f99e2f862924d4748a4b71c4fd94e3ec26e0c6da17ce1252992af68.scope";
const std::string kFirefox = kManager + "/app.slice/app-gnome-firefox-2871.scope";

SamplerOptions uid1000() {
  SamplerOptions options;
  options.uid = 1000;
  return options;
}

std::vector<std::string> paths_of(const Snapshot& snapshot) {
  std::vector<std::string> out;
  for (const auto& cgroup : snapshot.cgroups) out.push_back(cgroup.path);
  return out;
}

TEST(Sampler, FedoraLayout) {
  Sampler sampler(HostRoot(fixture("fedora42-podman")), uid1000());
  const HostLayout& layout = sampler.layout();
  EXPECT_EQ(layout.cgroup2_mount, "/sys/fs/cgroup");
  EXPECT_TRUE(layout.memory_controller);
  EXPECT_EQ(layout.uid, 1000u);
  EXPECT_EQ(layout.user_manager_path, kManager);
  EXPECT_FALSE(layout.system_only()) << layout.system_only_reason;
  EXPECT_TRUE(layout.system_only_reason.empty());
}

TEST(Sampler, FedoraSnapshotWalksTheUserManagerPreOrderThenSystemSlice) {
  Sampler sampler(HostRoot(fixture("fedora42-podman")), uid1000());
  const Snapshot snapshot = sampler.sample();
  for (const auto& problem : sampler.take_problems())
    ADD_FAILURE() << problem.where << ": " << problem.message;

  EXPECT_EQ(snapshot.meminfo.total_bytes, 30ULL << 30);
  ASSERT_TRUE(snapshot.system_pressure);
  EXPECT_DOUBLE_EQ(snapshot.system_pressure->some.avg10, 1.23);

  // user@1000.service, its 5 children with 9 + 4 + 5 + 1 grandchildren, then system.slice + 4.
  const auto paths = paths_of(snapshot);
  ASSERT_EQ(paths.size(), 1u + 5u + 9u + 4u + 5u + 1u + 5u);
  EXPECT_EQ(paths[0], kManager);
  EXPECT_EQ(paths[1], kManager + "/app.slice");
  EXPECT_EQ(paths[2], kFirefox);
  EXPECT_EQ(paths[6], kManager + "/background.slice");
  EXPECT_EQ(paths[8], kManager + "/init.scope");
  EXPECT_EQ(paths[9], kManager + "/session.slice");
  EXPECT_EQ(paths[15], kManager + "/user.slice");
  EXPECT_EQ(paths[25], "/system.slice");
  EXPECT_EQ(paths.back(), "/system.slice/systemd-oomd.service");

  const CgroupSample* manager = snapshot.find(kManager);
  ASSERT_NE(manager, nullptr);
  EXPECT_EQ(manager->unit, "user@1000.service");
  EXPECT_TRUE(manager->has_children);
  EXPECT_FALSE(manager->readonly);
  EXPECT_EQ(manager->memory.current_bytes,
            std::optional<uint64_t>(16124956672ULL));   // ≈ the report's 16.2 GB
  EXPECT_EQ(manager->memory.high_bytes, std::nullopt);  // "max"
  EXPECT_EQ(manager->memory.max_bytes, std::nullopt);

  const CgroupSample* jellyfin = snapshot.find(kJellyfin);
  ASSERT_NE(jellyfin, nullptr);
  EXPECT_FALSE(jellyfin->has_children);
  EXPECT_EQ(jellyfin->memory.current_bytes, std::optional<uint64_t>(1099997184ULL));
  EXPECT_EQ(jellyfin->memory.high_bytes, std::optional<uint64_t>(3ULL << 30));
  EXPECT_EQ(jellyfin->memory.max_bytes, std::optional<uint64_t>(4ULL << 30));
  EXPECT_EQ(jellyfin->memory.low_bytes, std::optional<uint64_t>(0));
  EXPECT_EQ(jellyfin->memory.swap_current_bytes, std::optional<uint64_t>(32997376ULL));
  EXPECT_EQ(jellyfin->memory.pgscan, 1204331u);
  EXPECT_EQ(jellyfin->memory.events_high, 18342u);
  EXPECT_FALSE(jellyfin->memory.oom_group);
  ASSERT_TRUE(jellyfin->pressure);
  EXPECT_DOUBLE_EQ(jellyfin->pressure->full.avg10, 7.33);
  EXPECT_EQ(jellyfin->pressure->some.total_us, 91447012u);

  const CgroupSample* journald = snapshot.find("/system.slice/systemd-journald.service");
  ASSERT_NE(journald, nullptr);
  EXPECT_TRUE(journald->readonly);
}

TEST(Sampler, WithoutSystemSliceWhenAskedNot) {
  SamplerOptions options = uid1000();
  options.include_system_slice = false;
  Sampler sampler(HostRoot(fixture("fedora42-podman")), options);
  const Snapshot snapshot = sampler.sample();
  EXPECT_EQ(snapshot.cgroups.size(), 25u);
  EXPECT_EQ(snapshot.find("/system.slice"), nullptr);
}

TEST(Sampler, Debian12WithKernel61Files) {
  Sampler sampler(HostRoot(fixture("debian12")), uid1000());
  ASSERT_FALSE(sampler.layout().system_only()) << sampler.layout().system_only_reason;
  const Snapshot snapshot = sampler.sample();
  for (const auto& problem : sampler.take_problems())
    ADD_FAILURE() << problem.where << ": " << problem.message;
  ASSERT_EQ(snapshot.cgroups.size(), 6u);  // no system.slice on this fixture, and that is fine
  const CgroupSample* firefox = snapshot.find(kManager + "/app.slice/app-gnome-firefox\\x2desr-2201.scope");
  ASSERT_NE(firefox, nullptr);
  EXPECT_EQ(firefox->memory.pgscan, 88120u);
  EXPECT_EQ(snapshot.meminfo.swap_total_bytes, 999420ULL * 1024);
}

TEST(Sampler, HybridHostIsSystemOnlyAndSaysWhy) {
  Sampler sampler(HostRoot(fixture("hybrid-v1")), uid1000());
  const HostLayout& layout = sampler.layout();
  EXPECT_EQ(layout.cgroup2_mount, "/sys/fs/cgroup/unified");
  EXPECT_FALSE(layout.memory_controller);
  EXPECT_TRUE(layout.system_only());
  EXPECT_EQ(
      layout.system_only_reason,
      "cgroup2 at /sys/fs/cgroup/unified has no memory controller (hybrid host, memory is on cgroup v1): "
      "system-only mode, reading /proc/pressure/memory and /proc/meminfo");
  const Snapshot snapshot = sampler.sample();
  EXPECT_TRUE(snapshot.cgroups.empty());
  EXPECT_EQ(snapshot.meminfo.total_bytes, 24684092ULL * 1024);
  ASSERT_TRUE(snapshot.system_pressure);
  EXPECT_TRUE(sampler.take_problems().empty());
}

TEST(Sampler, NoUserManagerIsSystemOnly) {
  SamplerOptions options;
  options.uid = 4242;  // nobody logged in with this uid on the Fedora fixture
  Sampler sampler(HostRoot(fixture("fedora42-podman")), options);
  EXPECT_TRUE(sampler.layout().system_only());
  EXPECT_EQ(
      sampler.layout().system_only_reason,
      "no user manager cgroup /sys/fs/cgroup/user.slice/user-4242.slice/user@4242.service (is systemd --user "
      "running for uid 4242?): system-only mode, reading /proc/pressure/memory and /proc/meminfo");
  EXPECT_TRUE(sampler.sample().cgroups.empty());
}

TEST(Sampler, MountinfoMissingFallsBackToKnownMountPoints) {
  FixtureCopy host("fedora42-podman");
  std::filesystem::remove(host.path("/proc/self/mountinfo"));
  Sampler sampler(HostRoot(host.root()), uid1000());
  EXPECT_EQ(sampler.layout().cgroup2_mount, "/sys/fs/cgroup");
  EXPECT_FALSE(sampler.layout().system_only());
}

// This machine: cgroup2 at /sys/fs/cgroup/unified without memory (memory is on v1), no user
// manager. The sampler must say so and still read the real /proc files.
TEST(Sampler, ThisMachineIsSystemOnlyWithRealProcValues) {
  Sampler sampler(HostRoot(), {});
  EXPECT_TRUE(sampler.layout().system_only());
  EXPECT_NE(sampler.layout().system_only_reason.find("system-only mode"), std::string::npos);
  RecordProperty("system_only_reason", sampler.layout().system_only_reason);
  const Snapshot snapshot = sampler.sample();
  EXPECT_TRUE(snapshot.cgroups.empty());
  auto direct = parse_meminfo(*read_file("/proc/meminfo"));
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(snapshot.meminfo.total_bytes, direct->total_bytes);
  EXPECT_GT(snapshot.meminfo.available_bytes, 0u);
  if (::access("/proc/pressure/memory", R_OK) == 0) {
    EXPECT_TRUE(snapshot.system_pressure);
  }
  for (const auto& problem : sampler.take_problems())
    ADD_FAILURE() << problem.where << ": " << problem.message;
  // A second tick re-reads the same fds.
  const Snapshot again = sampler.sample();
  EXPECT_EQ(again.meminfo.total_bytes, direct->total_bytes);
}

TEST(Sampler, RereadsKeptFdsEveryTick) {
  FixtureCopy host("fedora42-podman");
  SamplerOptions options = uid1000();
  options.rescan_every_ticks = 1000;  // no re-walk: the values must come through the open fds
  Sampler sampler(HostRoot(host.root()), options);
  ASSERT_EQ(sampler.sample().find(kJellyfin)->memory.current_bytes, std::optional<uint64_t>(1099997184ULL));
  rewrite(host.path("/sys/fs/cgroup" + kJellyfin + "/memory.current"),
          "2900000768\n");  // the Nov 21 kill: 2.9 GB
  rewrite(host.path("/proc/meminfo"),
          "MemTotal: 31457280 kB\nMemAvailable: 1048576 kB\nSwapTotal: 8388604 kB\n"
          "SwapFree: 0 kB\n");
  const Snapshot snapshot = sampler.sample();
  EXPECT_EQ(snapshot.find(kJellyfin)->memory.current_bytes, std::optional<uint64_t>(2900000768ULL));
  EXPECT_EQ(snapshot.meminfo.available_bytes, 1048576ULL * 1024);
}

TEST(Sampler, GarbageIsReportedOnceWhileItPersistsAndTheTickGoesOn) {
  FixtureCopy host("fedora42-podman");
  Sampler sampler(HostRoot(host.root()), uid1000());
  const std::string stat = "/sys/fs/cgroup" + kJellyfin + "/memory.stat";
  const std::string good = guardian::testing::slurp(host.path(stat));
  rewrite(host.path(stat), "anon 1\nfile \xff\xfe\n");

  Snapshot first = sampler.sample();
  auto problems = sampler.take_problems();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].where, stat);
  EXPECT_EQ(problems[0].message, "line 2: file is \"\\xff\\xfe\", expected an unsigned integer");
  // The cgroup is still there with what could be read; its stat fields are left at zero.
  const CgroupSample* jellyfin = first.find(kJellyfin);
  ASSERT_NE(jellyfin, nullptr);
  EXPECT_EQ(jellyfin->memory.current_bytes, std::optional<uint64_t>(1099997184ULL));
  EXPECT_EQ(jellyfin->memory.pgscan, 0u);
  EXPECT_EQ(first.cgroups.size(), 30u);

  sampler.sample();
  sampler.sample();
  EXPECT_TRUE(sampler.take_problems().empty()) << "the same problem must not be reported every tick";

  rewrite(host.path(stat), good);
  EXPECT_EQ(sampler.sample().find(kJellyfin)->memory.pgscan, 1204331u);
  EXPECT_TRUE(sampler.take_problems().empty());

  rewrite(host.path(stat), "garbage\n");
  sampler.sample();
  problems = sampler.take_problems();
  ASSERT_EQ(problems.size(), 1u) << "a problem that went away and came back is reported again";
  EXPECT_EQ(problems[0].message, "no \"anon\" line");
}

TEST(Sampler, MissingFileIsOneProblemAndTheRestIsRead) {
  FixtureCopy host("fedora42-podman");
  const std::string swap = "/sys/fs/cgroup" + kFirefox + "/memory.swap.current";
  std::filesystem::remove(host.path(swap));
  rewrite(host.path("/sys/fs/cgroup" + kManager + "/session.slice/memory.pressure"), "some avg10=0.00\n");
  Sampler sampler(HostRoot(host.root()), uid1000());
  const Snapshot snapshot = sampler.sample();
  auto problems = sampler.take_problems();
  ASSERT_EQ(problems.size(), 2u);  // in walk order: app.slice/… before session.slice
  EXPECT_EQ(problems[0].where, swap);
  EXPECT_EQ(problems[0].message, "cannot open: No such file or directory");
  EXPECT_EQ(problems[1].where, "/sys/fs/cgroup" + kManager + "/session.slice/memory.pressure");
  EXPECT_EQ(problems[1].message, "line 1: some line: expected \" avg60=\" at column 16");
  const CgroupSample* firefox = snapshot.find(kFirefox);
  ASSERT_NE(firefox, nullptr);
  EXPECT_EQ(firefox->memory.swap_current_bytes, std::nullopt);
  EXPECT_EQ(firefox->memory.current_bytes, std::optional<uint64_t>(8299999232ULL));
  EXPECT_FALSE(snapshot.find(kManager + "/session.slice")->pressure);
  sampler.sample();
  EXPECT_TRUE(sampler.take_problems().empty());
}

TEST(Sampler, RescanFindsNewAndRemovedCgroups) {
  FixtureCopy host("fedora42-podman");
  SamplerOptions options = uid1000();
  options.rescan_every_ticks = 3;
  Sampler sampler(HostRoot(host.root()), options);
  ASSERT_EQ(sampler.sample().cgroups.size(), 30u);

  // A new container starts (podman run), and immich-ml's container is removed.
  const std::string cg = host.path("/sys/fs/cgroup");
  const std::string fresh = kManager + "/user.slice/libpod-" + std::string(64, 'a') + ".scope";
  std::filesystem::copy(cg + kJellyfin, cg + fresh);
  std::filesystem::remove_all(
      cg + kManager +
      "/user.slice/libpod-78c0a46676aa6d608852506ec7761b9e4dffa2b904ee18adcddf4444a2bc052e.scope");

  // The tracked fds keep the removed files readable on a disk fs (cgroupfs would say ENODEV and
  // trigger an immediate rescan); the periodic re-walk picks both changes up.
  sampler.sample();
  sampler.sample();
  Snapshot rescanned = sampler.sample();
  EXPECT_EQ(rescanned.cgroups.size(), 30u);
  EXPECT_NE(rescanned.find(fresh), nullptr);
  EXPECT_EQ(rescanned.find(
                kManager +
                "/user.slice/libpod-78c0a46676aa6d608852506ec7761b9e4dffa2b904ee18adcddf4444a2bc052e.scope"),
            nullptr);

  // A cgroup that becomes a parent is seen as one after a requested rescan.
  std::filesystem::create_directory(cg + kJellyfin + "/container");
  sampler.request_rescan();
  Snapshot after = sampler.sample();
  EXPECT_TRUE(after.find(kJellyfin)->has_children);
  // The new child has no memory files (its parent does not enable the memory controller for
  // it, as systemd-udevd.service/udev on Debian 12): not sampled, and not a problem to report.
  EXPECT_EQ(after.find(kJellyfin + "/container"), nullptr);
  EXPECT_TRUE(sampler.take_problems().empty());
  EXPECT_EQ(after.find(kJellyfin)->memory.current_bytes, std::optional<uint64_t>(1099997184ULL));
}

TEST(Sampler, ACgroupWithoutTheMemoryControllerIsNoReasonToRewalkEveryTick) {
  // Debian 12 always has one (system.slice/systemd-udevd.service/udev). Before, each tick that
  // met it asked for a re-walk, and the next tick re-walked (and the daemon re-read oomd's
  // drop-ins): in the VM every tick opened every cgroup directory and ~30 drop-in directories.
  FixtureCopy host("fedora42-podman");
  Sampler sampler(HostRoot(host.root()), uid1000());
  sampler.sample();
  std::filesystem::create_directory(host.path("/sys/fs/cgroup" + kJellyfin + "/container"));
  sampler.request_rescan();
  Snapshot first = sampler.sample();
  EXPECT_TRUE(sampler.rescanned_last_tick());
  EXPECT_EQ(first.find(kJellyfin + "/container"), nullptr);
  for (int tick = 0; tick < 3; ++tick) {
    Snapshot next = sampler.sample();
    EXPECT_FALSE(sampler.rescanned_last_tick()) << "tick " << tick;
    EXPECT_EQ(next.cgroups.size(), first.cgroups.size());
  }
  EXPECT_TRUE(sampler.take_problems().empty());
  // Gone after the walk: one problem, and a re-walk.
  std::filesystem::remove_all(host.path("/sys/fs/cgroup" + kJellyfin));
  sampler.sample();
  sampler.sample();
  EXPECT_EQ(sampler.sample().find(kJellyfin), nullptr);
}

TEST(Sampler, UserManagerGoneIsOneProblem) {
  FixtureCopy host("fedora42-podman");
  SamplerOptions options = uid1000();
  options.include_system_slice = false;
  Sampler sampler(HostRoot(host.root()), options);
  ASSERT_EQ(sampler.sample().cgroups.size(), 25u);
  std::filesystem::remove_all(host.path("/sys/fs/cgroup" + kManager));  // the user logged out
  sampler.request_rescan();
  EXPECT_TRUE(sampler.sample().cgroups.empty());
  auto problems = sampler.take_problems();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].where, "/sys/fs/cgroup" + kManager);
  EXPECT_EQ(problems[0].message, "user manager cgroup is gone");
  sampler.request_rescan();
  sampler.sample();
  EXPECT_TRUE(sampler.take_problems().empty());
}

TEST(Sampler, OomdPreferenceXattrs) {
  FixtureCopy host("fedora42-podman");
  const std::string jellyfin_dir = host.path("/sys/fs/cgroup" + kJellyfin);
  const std::string firefox_dir = host.path("/sys/fs/cgroup" + kFirefox);
  // systemd sets "1" for ManagedOOMPreference=omit / avoid (src/core/cgroup.c).
  if (::setxattr(jellyfin_dir.c_str(), "user.oomd_omit", "1", 1, 0) != 0 ||
      ::setxattr(firefox_dir.c_str(), "user.oomd_avoid", "1", 1, 0) != 0) {
    GTEST_SKIP() << "setxattr user.* not supported under /tmp here: " << std::strerror(errno);
  }
  Sampler sampler(HostRoot(host.root()), uid1000());
  const Snapshot snapshot = sampler.sample();
  EXPECT_TRUE(snapshot.find(kJellyfin)->oomd_omit);
  EXPECT_FALSE(snapshot.find(kJellyfin)->oomd_avoid);
  EXPECT_TRUE(snapshot.find(kFirefox)->oomd_avoid);
  EXPECT_FALSE(snapshot.find(kFirefox)->oomd_omit);
  EXPECT_FALSE(snapshot.find(kManager)->oomd_omit);
}

}  // namespace
}  // namespace guardian
