// Doctor findings (model/containers.h) on the incident machine (seed 002): 30 GB RAM,
// container.slice meant to be MemoryHigh=8G / MemoryMax=10G, Jellyfin still in app.slice.
#include "model/containers.h"

#include <gtest/gtest.h>

namespace guardian {
namespace {

constexpr uint64_t GiB = 1ULL << 30;

UnitProperties slice(std::optional<uint64_t> high, std::optional<uint64_t> max, uint64_t current) {
  UnitProperties unit;
  unit.name = "container.slice";
  unit.load_state = "loaded";
  unit.memory_high = high;
  unit.memory_max = max;
  unit.memory_current = current;
  unit.managed_oom_memory_pressure = "kill";
  unit.managed_oom_memory_pressure_limit_percent = 80.0;  // Fedora's slice.d default
  return unit;
}

TEST(ContainerFindings, MissingSliceIsAProblemWithTheInstallStep) {
  UnitProperties missing;
  missing.name = "container.slice";
  missing.load_state = "not-found";
  auto findings = check_container_slice(missing, {8 * GiB, 10 * GiB});
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].verdict, Finding::Verdict::Problem);
  EXPECT_NE(findings[0].next_step.find("systemctl --user daemon-reload"), std::string::npos);
  auto no_bus = check_container_slice(std::nullopt, {});
  ASSERT_EQ(no_bus.size(), 1u);
  EXPECT_EQ(no_bus[0].verdict, Finding::Verdict::Warning);
}

TEST(ContainerFindings, LimitsThatDifferAndATightMemoryHigh) {
  auto findings = check_container_slice(slice(6 * GiB, 10 * GiB, 6 * GiB), {8 * GiB, 10 * GiB});
  ASSERT_EQ(findings.size(), 3u);
  EXPECT_EQ(findings[0].verdict, Finding::Verdict::Warning);
  EXPECT_EQ(findings[0].summary, "MemoryHigh is 6.00 GiB, the policy wants 8.00 GiB");
  EXPECT_EQ(findings[1].verdict, Finding::Verdict::Warning);  // using 6G at MemoryHigh 6G: throttled
  EXPECT_NE(findings[1].summary.find("raises memory pressure inside the slice"), std::string::npos);
  EXPECT_EQ(findings[2].verdict, Finding::Verdict::Info);  // oomd at 80% inside the slice
  EXPECT_NE(findings[2].next_step.find("50-guardian-oomd.conf"), std::string::npos);

  auto good = check_container_slice(slice(8 * GiB, 10 * GiB, 3 * GiB), {8 * GiB, 10 * GiB});
  EXPECT_EQ(good[0].verdict, Finding::Verdict::Ok);
  EXPECT_EQ(good.size(), 2u);
}

TEST(ContainerFindings, ContainersOutsideTheSliceGetTheAdoptCommand) {
  ContainerUnit jellyfin;
  jellyfin.kind = ContainerKind::Quadlet;
  jellyfin.unit = "jellyfin.service";
  jellyfin.name = "jellyfin";
  jellyfin.slice = "app.slice";
  jellyfin.memory_current = 2'684'354'560ULL;
  ContainerUnit immich = jellyfin;
  immich.unit = "immich-server.service";
  immich.name = "immich-server";
  immich.slice = "container.slice";
  immich.in_container_slice = true;
  ContainerUnit scope;
  scope.kind = ContainerKind::PodmanScope;
  scope.unit = "libpod-3f2a9c1e5b7d4a6f8e0c2b4d6f8a0c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a.scope";
  scope.name = "promtail";
  scope.slice = "user.slice";
  auto findings = check_containers({jellyfin, immich, scope});
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[0].next_step, "guardian adopt jellyfin");
  EXPECT_NE(findings[0].summary.find("2.50 GiB"), std::string::npos) << findings[0].summary;
  EXPECT_NE(findings[1].next_step.find("--cgroup-parent=container.slice"), std::string::npos);
  auto all_in = check_containers({immich});
  ASSERT_EQ(all_in.size(), 1u);
  EXPECT_EQ(all_in[0].verdict, Finding::Verdict::Ok);
}

TEST(ContainerFindings, OomdWatchDisagreementIsAProblem) {
  WatchReconciliation reconciliation;
  reconciliation.disagreements.push_back({WatchDisagreement::Kind::MissingFromLive,
                                          "/user.slice/user-1000.slice/user@1000.service", "dropped",
                                          "sudo systemctl daemon-reload"});
  auto findings = check_oomd_watch(reconciliation);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].verdict, Finding::Verdict::Problem);
  EXPECT_EQ(check_oomd_watch({}).at(0).verdict, Finding::Verdict::Ok);
}

}  // namespace
}  // namespace guardian
