// The metrics exporter's per-tick update allocates nothing once a cgroup's series exist (the
// daemon's steady tick, tests/daemon/steady_tick.cpp, holds the whole loop to the same rule).
// The exporter alone (only its on_tick is counted), fed as the daemon feeds it: the real Sampler over the
// incident host's fixture (Fedora 42, rootless podman, 30 cgroups), the oomd model with the fixture's drop-in
// rules, the user-budget model and the tick-lateness histogram, with malloc replaced by a counting
// one in this binary. Values change every tick (PSI totals, lateness, a kernel OOM kill in a
// container and one in a transient scope), and a scrape runs on another thread meanwhile.
//
// Its own binary (not in guardian_tests): replacing malloc is process-wide.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>

#include "model/user_budget.h"
#include "sense/self_watch.h"
#include "support/counting_malloc.h"
#include "support/sampled_fixture.h"
#include "tell/metrics_exporter.h"

namespace guardian {
namespace {

TEST(MetricsExporterSteady, OnTickAllocatesNothingOnceTheSeriesExist) {
  test::SampledFixture host("fedora42-podman");
  auto& sampler = host.sampler;
  auto& snapshot = host.snapshot;
  auto& model = host.model;
  ASSERT_EQ(snapshot.cgroups.size(), 30u);
  ASSERT_GT(host.watched_rules, 0u);
  UserBudgetModel budget;
  TickLateness lateness;
  auto start = std::chrono::steady_clock::now();
  lateness.arm(start, std::chrono::seconds(1));
  LadderState ladder;
  ladder.level = 1;

  // A container and a transient scope whose memory.events oom_kill the test raises.
  size_t container = snapshot.cgroups.size(), transient = snapshot.cgroups.size();
  for (size_t i = 0; i < snapshot.cgroups.size(); ++i) {
    const std::string& path = snapshot.cgroups[i].path;
    if (path.find("/libpod-8470849ba1ee") != std::string::npos) container = i;
    if (path.ends_with("/app-gnome-firefox-2871.scope")) transient = i;
  }
  ASSERT_LT(container, snapshot.cgroups.size());
  ASSERT_LT(transient, snapshot.cgroups.size());

  MetricsExporter exporter;
  uint64_t kills = 0;
  // Kept across ticks, as the daemon keeps its TickView (daemon.cpp).
  TickView view;
  view.layout = &sampler.layout();
  view.oomd = &model.states();
  view.ladder = &ladder;
  view.level_name = "elevated-memory-pressure";  // longer than the small-string buffer
  view.dry_run = true;
  view.lateness = &lateness;
  view.user_budget = &budget.budget();
  bool counting = false;
  auto tick = [&](int i) {
    sampler.sample_into(snapshot);
    snapshot.cgroups[container].memory.events_oom_kill = kills;
    snapshot.cgroups[transient].memory.events_oom_kill = kills;
    ++kills;
    model.observe(snapshot);
    budget.observe(snapshot, sampler.layout().user_manager_path);
    // The timer read 3 ms late, then 12, 21, 30 ms: the histogram gains an observation per tick.
    lateness.on_expiry(start + std::chrono::seconds(i + 1) + std::chrono::milliseconds(3 + (i % 4) * 9), 1);
    view.snapshot = &snapshot;
    // Only the exporter's own work is counted (sense and model: tests/daemon/steady_tick.cpp).
    test::count_calls_on_this_thread(counting);
    exporter.on_tick(view);
    test::count_calls_on_this_thread(false);
  };
  // The first tick makes every series: the count sees it (so a zero below means something).
  counting = true;
  tick(0);
  counting = false;
  EXPECT_GT(test::counted_allocations(), 100u) << "the first tick creates the series";
  for (int i = 1; i < 5; ++i) tick(i);
  (void)sampler.take_problems();

  std::atomic<bool> done{false};
  std::atomic<int> scrapes{0};
  std::thread scraper([&] {
    while (!done.load()) {
      const std::string body = exporter.render();
      if (!body.empty()) ++scrapes;
    }
  });
  const uint64_t before = test::counted_allocations();
  counting = true;
  for (int i = 5; i < 205; ++i) tick(i);
  counting = false;
  const uint64_t allocations = test::counted_allocations() - before;
  done = true;
  scraper.join();
  EXPECT_EQ(allocations, 0u) << "heap allocations on the ticking thread in 200 exporter ticks";
  EXPECT_GT(scrapes.load(), 0);

  // The ticks did what a tick does: the series are there and moved.
  const std::string text = exporter.render();
  EXPECT_NE(text.find("guardian_cgroup_memory_bytes{cgroup=\"app.slice\",kind=\"current\"}"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("guardian_oom_kills_total{cgroup=\"user.slice/libpod-8470849ba1ee"), std::string::npos);
  EXPECT_NE(text.find("guardian_oom_kills_total{cgroup=\"app.slice\",killer=\"kernel\"} 204"),
            std::string::npos)
      << "the transient scope's kills count on app.slice";
  EXPECT_NE(text.find("guardian_tick_lateness_seconds_count 205"), std::string::npos);
  EXPECT_NE(text.find("guardian_user_budget_used_bytes "), std::string::npos);
  EXPECT_NE(text.find("guardian_level_info{level=\"elevated-memory-pressure\"} 1"), std::string::npos);
  EXPECT_EQ(text.find("firefox"), std::string::npos);
}

}  // namespace
}  // namespace guardian
