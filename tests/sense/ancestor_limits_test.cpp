// The limits above the user manager (sense/ancestor_limits.h) on the Debian 12 fixture: an admin's
// MemoryMax=12G on user-1000.slice, user.slice unlimited (tests/fixtures/debian12/README.md).
#include "sense/ancestor_limits.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "sense/fixture_support.h"
#include "sense/sampler.h"

namespace guardian {
namespace {

using testing::FixtureCopy;
using testing::rewrite;

SamplerOptions uid1000() {
  SamplerOptions options;
  options.uid = 1000;
  return options;
}

TEST(AncestorLimits, TheSmallestLimitAboveTheUserManager) {
  FixtureCopy copy("debian12");
  const HostRoot host(copy.root());
  Sampler sampler(host, uid1000());
  AncestorLimitReader reader(host, sampler.layout());
  EXPECT_EQ(reader.ancestors(), (std::vector<std::string>{"/user.slice/user-1000.slice", "/user.slice"}));
  EXPECT_EQ(reader.smallest_limit(), std::optional<uint64_t>(12ULL << 30));

  // Re-read through the open files, as the kernel changes them: a lower memory.high on user.slice
  // wins; all "max" is no limit; garbage is skipped rather than taken for a limit.
  rewrite(copy.path("/sys/fs/cgroup/user.slice/memory.high"), "8589934592\n");
  EXPECT_EQ(reader.smallest_limit(), std::optional<uint64_t>(8ULL << 30));
  rewrite(copy.path("/sys/fs/cgroup/user.slice/memory.high"), "max\n");
  rewrite(copy.path("/sys/fs/cgroup/user.slice/user-1000.slice/memory.max"), "max\n");
  EXPECT_EQ(reader.smallest_limit(), std::nullopt);
  rewrite(copy.path("/sys/fs/cgroup/user.slice/user-1000.slice/memory.max"), "12G\n");
  EXPECT_EQ(reader.smallest_limit(), std::nullopt);
}

// A logout and login: user-1000.slice and the user manager go away and are made anew (new
// cgroups, new files). The sampler opens the ancestors again on the walk that finds the manager
// back, so the snapshot reads the new user-1000.slice's limit, not the removed one's.
TEST(AncestorLimits, TheSamplerFollowsTheUserSliceMadeAnew) {
  FixtureCopy copy("debian12");
  const HostRoot host(copy.root());
  Sampler sampler(host, uid1000());
  EXPECT_EQ(sampler.sample().user_ancestors_limit_bytes, std::optional<uint64_t>(12ULL << 30));

  // Logout: the slice is removed (moved aside here, so files still open on it keep their old
  // text, as a removed cgroup's open files would go on answering for it).
  const std::string slice = copy.path("/sys/fs/cgroup/user.slice/user-1000.slice");
  const std::string removed = copy.path("/removed-user-1000.slice");
  std::filesystem::rename(slice, removed);
  sampler.request_rescan();
  EXPECT_EQ(sampler.sample().user_ancestors_limit_bytes, std::nullopt);

  // Login: made anew, now with MemoryMax=4G.
  std::filesystem::copy(removed, slice, std::filesystem::copy_options::recursive);
  rewrite(slice + "/memory.max", "4294967296\n");
  sampler.request_rescan();
  const Snapshot after = sampler.sample();
  EXPECT_FALSE(after.cgroups.empty());
  EXPECT_EQ(after.user_ancestors_limit_bytes, std::optional<uint64_t>(4ULL << 30));
}

TEST(AncestorLimits, NothingToReadWithoutAUserManager) {
  const HostRoot host(testing::fixture("hybrid-v1"));
  Sampler sampler(host, uid1000());
  AncestorLimitReader reader(host, sampler.layout());
  EXPECT_EQ(reader.smallest_limit(), std::nullopt);
}

}  // namespace
}  // namespace guardian
