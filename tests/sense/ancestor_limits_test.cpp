// The limits above the user manager (sense/ancestor_limits.h) on the Debian 12 fixture: an admin's
// MemoryMax=12G on user-1000.slice, user.slice unlimited (tests/fixtures/debian12/README.md).
#include "sense/ancestor_limits.h"

#include <gtest/gtest.h>

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

TEST(AncestorLimits, NothingToReadWithoutAUserManager) {
  const HostRoot host(testing::fixture("hybrid-v1"));
  Sampler sampler(host, uid1000());
  AncestorLimitReader reader(host, sampler.layout());
  EXPECT_EQ(reader.smallest_limit(), std::nullopt);
}

}  // namespace
}  // namespace guardian
