// What the active levels' actions hold back, measured on the fedora42-podman fixture desktop
// (tests/fixtures/fedora42-podman/README.md: Jellyfin in its libpod scope at 1100 MB, immich-ml at
// 534 MB, all in the user manager's inner user.slice, 3243978752 bytes), read by the real Sampler
// from a copy whose memory.current files the test rewrites between ticks, as the kernel would.
// The falls are sqj-s22-g4's (tests/vm): jellyfin.service from 565 to 333 MiB after cap-bitrate.
#include "model/action_relief.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sense/sampler.h"
#include "support/scratch_dir.h"

namespace guardian {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t MiB = 1ULL << 20;
constexpr char kManager[] = "/user.slice/user-1000.slice/user@1000.service";
constexpr char kJellyfin[] =
    "user.slice/libpod-28d81f2e7f99e2f862924d4748a4b71c4fd94e3ec26e0c6da17ce1252992af68.scope";
constexpr char kImmichMl[] =
    "user.slice/libpod-78c0a46676aa6d608852506ec7761b9e4dffa2b904ee18adcddf4444a2bc052e.scope";

class FixtureHost {
 public:
  FixtureHost() : dir_("action-relief") {
    fs::copy(std::string(GUARDIAN_FIXTURES_DIR) + "/fedora42-podman", dir_ / "host",
             fs::copy_options::recursive);
    sampler_ = std::make_unique<Sampler>(HostRoot(dir_ / "host"), SamplerOptions{1000, true, 5});
  }
  // The cgroup's memory.current, relative to the user manager or absolute from the mount; written
  // in place (the sampler keeps the file open, as it keeps the kernel's).
  [[nodiscard]] uint64_t current(const std::string& relative) const {
    std::ifstream in(file(relative));
    uint64_t bytes = 0;
    in >> bytes;
    return bytes;
  }
  void set_current(const std::string& relative, uint64_t bytes) const {
    std::ofstream(file(relative), std::ios::trunc) << bytes << "\n";
  }
  void remove(const std::string& relative) const { fs::remove_all(cgroup(relative)); }
  Snapshot sample(int second) {
    Snapshot snapshot = sampler_->sample();
    snapshot.mono = MonoTime{} + std::chrono::seconds(second);
    (void)sampler_->take_problems();
    return snapshot;
  }

 private:
  [[nodiscard]] std::string cgroup(const std::string& relative) const {
    if (relative.starts_with('/')) return dir_ / ("host/sys/fs/cgroup" + relative);
    return dir_ / ("host/sys/fs/cgroup" + std::string(kManager) + "/" + relative);
  }
  [[nodiscard]] std::string file(const std::string& relative) const {
    return cgroup(relative) + "/memory.current";
  }
  test::ScratchDir dir_;
  std::unique_ptr<Sampler> sampler_;
};

ReliefTarget path(const std::string& relative) { return {ReliefTarget::By::Path, relative}; }
ReliefTarget unit(const std::string& name) { return {ReliefTarget::By::Unit, name}; }

TEST(ActionRelief, TheFallOfTheCgroupTheLevelsActionsActOnSinceTheLevelWasEntered) {
  FixtureHost host;
  ActionReliefModel relief;
  // elevated: four Jellyfin actions on the instance's cgroup (measured once); critical: none.
  relief.set_targets({{path(kJellyfin), path(kJellyfin), path(kJellyfin), path(kJellyfin)}, {}});
  host.set_current(kJellyfin, 565 * MiB);
  const Snapshot entry = host.sample(0);
  relief.note_levels({entry.mono}, entry, kManager);  // elevated entered on this tick
  relief.observe(entry);
  ASSERT_EQ(relief.held_back_bytes().size(), 1u);
  EXPECT_EQ(relief.held_back_bytes()[0], 0u);  // nothing freed yet

  host.set_current(kJellyfin, 333 * MiB);  // alice's client reloaded at 720p
  Snapshot now = host.sample(10);
  relief.observe(now);
  EXPECT_EQ(relief.held_back_bytes()[0], 232 * MiB);
  // A later tick records nothing again: the entry's figure stays the reference.
  relief.note_levels({entry.mono}, now, kManager);
  host.set_current(kJellyfin, 400 * MiB);
  now = host.sample(20);
  relief.observe(now);
  EXPECT_EQ(relief.held_back_bytes()[0], 165 * MiB);
  // Grown past where it was at the entry: nothing held back, not a negative figure.
  host.set_current(kJellyfin, 600 * MiB);
  now = host.sample(30);
  relief.observe(now);
  EXPECT_EQ(relief.held_back_bytes()[0], 0u);
}

TEST(ActionRelief, ACgroupGoneHoldsNothingBackAndALevelEnteredAgainMeasuresAfresh) {
  FixtureHost host;
  ActionReliefModel relief;
  relief.set_targets({{path(kJellyfin)}});
  // 1100 MB (README.md of the fixture) in whole 4-KiB pages, as the kernel counts it.
  const uint64_t at_entry = host.current(kJellyfin);
  ASSERT_EQ(at_entry, 1'100'000'000u / 4096 * 4096);
  const Snapshot entry = host.sample(0);
  relief.note_levels({entry.mono}, entry, kManager);
  host.set_current(kJellyfin, at_entry - 300 * MiB);
  Snapshot now = host.sample(5);
  relief.observe(now);
  EXPECT_EQ(relief.held_back_bytes()[0], 300 * MiB);

  host.remove(kJellyfin);  // the container stopped: its memory went with it, nothing comes back
  now = host.sample(10);
  ASSERT_EQ(now.find(std::string(kManager) + "/" + kJellyfin), nullptr);
  relief.observe(now);
  EXPECT_EQ(relief.held_back_bytes()[0], 0u);

  // Left and entered again while the cgroup is gone: not measured.
  relief.note_levels({}, now, kManager);
  EXPECT_TRUE(relief.held_back_bytes().empty());
  relief.note_levels({now.mono}, now, kManager);
  relief.observe(host.sample(15));
  EXPECT_EQ(relief.held_back_bytes()[0], 0u);
}

TEST(ActionRelief, ATargetInsideAnotherCountsTowardTheOuterOnceNotTwice) {
  FixtureHost host;
  ActionReliefModel relief;
  // cap-bitrate on Jellyfin's scope and slice.balance on the slice it runs in (the user manager's
  // inner user.slice, named by its unit), frozen immich-ml in the same slice.
  relief.set_targets({{path(kJellyfin), unit("user.slice"), unit(std::string(kImmichMl).substr(11))}});
  const uint64_t slice = host.current("user.slice");
  const uint64_t jellyfin = host.current(kJellyfin);
  const uint64_t immich = host.current(kImmichMl);
  const Snapshot entry = host.sample(0);
  relief.note_levels({entry.mono}, entry, kManager);

  // Jellyfin falls 232 MiB while immich-ml grows 100 MiB: the slice fell 132 MiB, but what the
  // actions hold back is Jellyfin's 232 (the growth is not theirs to give back).
  host.set_current(kJellyfin, jellyfin - 232 * MiB);
  host.set_current(kImmichMl, immich + 100 * MiB);
  host.set_current("user.slice", slice - 132 * MiB);
  relief.observe(host.sample(5));
  EXPECT_EQ(relief.held_back_bytes()[0], 232 * MiB);

  // The slice's limit pushed the rest out too: the slice's own fall is the larger, counted once.
  host.set_current(kImmichMl, immich - 100 * MiB);
  host.set_current("user.slice", slice - 400 * MiB);
  relief.observe(host.sample(10));
  EXPECT_EQ(relief.held_back_bytes()[0], 400 * MiB);
}

TEST(ActionRelief, EachLevelMeasuresFromItsOwnEntry) {
  FixtureHost host;
  ActionReliefModel relief;
  relief.set_targets({{path(kJellyfin)}, {path(kJellyfin)}});
  host.set_current(kJellyfin, 565 * MiB);
  const Snapshot first = host.sample(0);
  relief.note_levels({first.mono}, first, kManager);
  host.set_current(kJellyfin, 500 * MiB);
  const Snapshot second = host.sample(20);
  relief.observe(second);
  relief.note_levels({first.mono, second.mono}, second, kManager);  // critical entered at 500 MiB
  host.set_current(kJellyfin, 300 * MiB);
  relief.observe(host.sample(30));
  ASSERT_EQ(relief.held_back_bytes().size(), 2u);
  EXPECT_EQ(relief.held_back_bytes()[0], 265 * MiB);  // elevated's, critical's included
  EXPECT_EQ(relief.held_back_bytes()[1], 200 * MiB);  // critical's alone
  // A policy reload: new levels, nothing recorded.
  relief.set_targets({{path(kJellyfin)}});
  EXPECT_TRUE(relief.held_back_bytes().empty());
}

TEST(ActionRelief, AnAbsolutePathIsFromTheMountAndAMissingTargetIsNotMeasured) {
  FixtureHost host;
  ActionReliefModel relief;
  // A [[jellyfin]] whose cgroup is a system service, given from the cgroup2 mount; one not on this
  // host; a unit of that name only outside the user manager (gdm.service is in system.slice).
  const std::string system_service = "/system.slice/NetworkManager.service";
  relief.set_targets({{path(system_service), path("container.slice/jellyfin.service"), unit("gdm.service")}});
  const Snapshot entry = host.sample(0);
  const CgroupSample* sampled = entry.find(system_service);
  ASSERT_NE(sampled, nullptr);
  ASSERT_TRUE(sampled->memory.current_bytes.has_value());
  relief.note_levels({entry.mono}, entry, kManager);
  host.set_current(system_service, *sampled->memory.current_bytes - 10 * MiB);
  host.set_current("/system.slice/gdm.service", host.current("/system.slice/gdm.service") / 2);
  relief.observe(host.sample(5));
  ASSERT_EQ(relief.held_back_bytes().size(), 1u);
  EXPECT_EQ(relief.held_back_bytes()[0], 10 * MiB);  // the system service's fall alone
}

}  // namespace
}  // namespace guardian
