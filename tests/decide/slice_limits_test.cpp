// Doing no harm with container.slice's limits (decide/slice_limits.h), plain values.
// The numbers of the acceptance replay (issue 10): a 2 GiB Debian 12 guest, the user's own
// container.slice at MemoryHigh=800M / MemoryMax=1000M, the default policy's 25% / 33% of RAM
// resolving to 491M / 648M (rounded down to whole MiB here).
#include "decide/slice_limits.h"

#include <gtest/gtest.h>

#include <vector>

namespace guardian {
namespace {

constexpr uint64_t MiB = 1ULL << 20;
using Kind = SliceLimitPlan::Kind;

SliceLimitInput input(std::string_view property, std::optional<uint64_t> current, uint64_t wanted,
                      std::optional<uint64_t> usage) {
  SliceLimitInput in;
  in.property = property;
  in.current = current;
  in.wanted = wanted;
  in.usage_bytes = usage;
  return in;
}

TEST(SliceLimits, TheUsersLimitsAreNeverLoweredByTheDefault) {
  // The replay: guardian "corrected" 800M/1000M down to 491M/648M and throttled Jellyfin at once.
  auto high = plan_slice_limit(input("MemoryHigh", 800 * MiB, 491 * MiB, 420 * MiB));
  EXPECT_EQ(high.kind, Kind::Keep);
  EXPECT_FALSE(high.target.has_value());
  EXPECT_NE(high.reason.find("kept: set by the user (800.00 MiB"), std::string::npos) << high.reason;
  auto max = plan_slice_limit(input("MemoryMax", 1000 * MiB, 648 * MiB, 420 * MiB));
  EXPECT_EQ(max.kind, Kind::Keep);
}

TEST(SliceLimits, ALowerUserLimitIsRaisedToThePolicys) {
  auto plan = plan_slice_limit(input("MemoryHigh", 300 * MiB, 491 * MiB, 290 * MiB));
  EXPECT_EQ(plan.kind, Kind::Set);
  EXPECT_EQ(plan.target, 491 * MiB);
  EXPECT_NE(plan.reason.find("would raise"), std::string::npos);
}

TEST(SliceLimits, NoLimitGetsThePolicysOnlyAboveWhatTheSliceUses) {
  // Infinity, the slice uses 300M: 491M leaves room -> set.
  auto plan = plan_slice_limit(input("MemoryHigh", std::nullopt, 491 * MiB, 300 * MiB));
  EXPECT_EQ(plan.kind, Kind::Set);
  EXPECT_EQ(plan.target, 491 * MiB);
  // Infinity, the slice uses 470M: 491M is within 10% of it -> not now.
  plan = plan_slice_limit(input("MemoryHigh", std::nullopt, 491 * MiB, 470 * MiB));
  EXPECT_EQ(plan.kind, Kind::Defer);
  EXPECT_FALSE(plan.target.has_value());
  EXPECT_NE(plan.reason.find("throttle"), std::string::npos);
  // MemoryMax the same, for its own reason.
  plan = plan_slice_limit(input("MemoryMax", std::nullopt, 648 * MiB, 700 * MiB));
  EXPECT_EQ(plan.kind, Kind::Defer);
  EXPECT_NE(plan.reason.find("kill"), std::string::npos);
}

TEST(SliceLimits, AtThePolicysValueNothingMoves) {
  auto plan = plan_slice_limit(input("MemoryHigh", 491 * MiB, 491 * MiB, 100 * MiB));
  EXPECT_EQ(plan.kind, Kind::Keep);  // the user's own value equals the policy's: kept
  SliceLimitInput ours = input("MemoryHigh", 491 * MiB, 491 * MiB, 100 * MiB);
  ours.user_original = std::optional<uint64_t>(300 * MiB);
  EXPECT_EQ(plan_slice_limit(ours).kind, Kind::AlreadyThere);
}

TEST(SliceLimits, GuardiansOwnValueIsJudgedAgainstTheUsersOriginal) {
  // guardian raised the user's 300M to 491M; a reloaded policy asks 400M: still above the user's
  // 300M, so guardian's own value moves down to 400M (it is guardian's to move).
  SliceLimitInput in = input("MemoryHigh", 491 * MiB, 400 * MiB, 250 * MiB);
  in.user_original = std::optional<uint64_t>(300 * MiB);
  auto plan = plan_slice_limit(in);
  EXPECT_EQ(plan.kind, Kind::Set);
  EXPECT_EQ(plan.target, 400 * MiB);
  EXPECT_NE(plan.reason.find("the user's original 300.00 MiB"), std::string::npos) << plan.reason;
  // The policy now asks 250M, below the user's 300M: the user's value comes back.
  in.wanted = 250 * MiB;
  plan = plan_slice_limit(in);
  EXPECT_EQ(plan.kind, Kind::RestoreUser);
  EXPECT_EQ(plan.target, 300 * MiB);
  // guardian set one where the user had none, and the slice has grown past the policy's value:
  // back to the user's infinity rather than a tighter limit.
  SliceLimitInput none = input("MemoryHigh", 491 * MiB, 491 * MiB, 520 * MiB);
  none.user_original = std::optional<uint64_t>();
  plan = plan_slice_limit(none);
  EXPECT_EQ(plan.kind, Kind::RestoreUser);
  EXPECT_FALSE(plan.target.has_value());
}

TEST(SliceLimits, AHardCorrectionSetsThePolicysValueWhateverItFinds) {
  SliceLimitInput in = input("MemoryHigh", 800 * MiB, 491 * MiB, 700 * MiB);
  in.hard = true;
  auto plan = plan_slice_limit(in);
  EXPECT_EQ(plan.kind, Kind::Set);
  EXPECT_EQ(plan.target, 491 * MiB);
  EXPECT_NE(plan.reason.find("hard"), std::string::npos);
}

// The guard against lowering under a hot oomd-watched cgroup.
constexpr std::string_view kManager = "/user.slice/user-1000.slice/user@1000.service";
constexpr std::string_view kContainers = "/user.slice/user-1000.slice/user@1000.service/container.slice";
constexpr std::string_view kApps = "/user.slice/user-1000.slice/user@1000.service/app.slice";

TEST(LowerGuard, DebiansUserServiceRuleForbidsLoweringAnySliceBelowItWhileItClimbs) {
  // Debian 12: user@.service watched at 50% (10-oomd-user-service-defaults.conf). Its full avg10
  // at 20% = 40% of the limit: hot.
  std::vector<WatchedPressure> watched{{kManager, 50, 20, 35, std::nullopt}};
  auto verdict = may_lower_limit(kContainers, watched);
  EXPECT_FALSE(verdict.allowed);
  EXPECT_NE(verdict.reason.find("which holds it"), std::string::npos) << verdict.reason;
  // Early in the climb: 6% (12% of the limit) but the instantaneous share is 30%: rising -> refused.
  watched = {{kManager, 50, 6, 30, std::nullopt}};
  EXPECT_FALSE(may_lower_limit(kContainers, watched).allowed);
  // The same 6% falling (share 2%): allowed.
  watched = {{kManager, 50, 6, 2, std::nullopt}};
  EXPECT_TRUE(may_lower_limit(kContainers, watched).allowed);
  // Calm but a kill predicted in 90 s: refused.
  watched = {{kManager, 50, 1, 1, 90.0}};
  EXPECT_FALSE(may_lower_limit(kContainers, watched).allowed);
  // Quiet: allowed.
  watched = {{kManager, 50, 0.5, 0.4, std::nullopt}};
  EXPECT_TRUE(may_lower_limit(kContainers, watched).allowed);
}

TEST(LowerGuard, FedorasPerSliceRuleLooksAtTheSliceItselfNotItsSiblings) {
  // Fedora: every slice of the user manager watched at 80% (slice.d/10-oomd-per-slice-defaults.conf).
  // The desktop (app.slice) is hot, container.slice calm: lowering container.slice only adds stall
  // in container.slice, which oomd judges on its own -> allowed (this is slice.balance's probe).
  std::vector<WatchedPressure> watched{{kApps, 80, 60, 70, 20.0}, {kContainers, 80, 2, 1, std::nullopt}};
  EXPECT_TRUE(may_lower_limit(kContainers, watched).allowed);
  // container.slice itself climbing: refused, naming it.
  watched = {{kApps, 80, 10, 10, std::nullopt}, {kContainers, 80, 30, 45, std::nullopt}};
  auto verdict = may_lower_limit(kContainers, watched);
  EXPECT_FALSE(verdict.allowed);
  EXPECT_NE(verdict.reason.find("itself"), std::string::npos) << verdict.reason;
  // A path that only shares a prefix is not below it.
  watched = {{"/user.slice/user-1000.slice/user@1000.service/container", 80, 70, 70, std::nullopt}};
  EXPECT_TRUE(may_lower_limit(kContainers, watched).allowed);
}

}  // namespace
}  // namespace guardian
