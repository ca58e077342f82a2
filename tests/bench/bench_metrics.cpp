// /metrics for 500 cgroups: the time to render a scrape (what Prometheus waits for) and to take
// a tick (what the loop pays), and the size of the body. Goal: render <= 10 ms.
//   cmake --build build --target bench_metrics && ./build/tests/bench/bench_metrics
#include <benchmark/benchmark.h>

#include <string>

#include "tell/metrics_exporter.h"

namespace guardian {
namespace {

constexpr const char* kManager = "/user.slice/user-1000.slice/user@1000.service";

// 500 cgroups shaped like a busy desktop: 5 slices, 99 services or container scopes under each,
// each with memory.pressure, memory.current/high/max, memory.stat and swap — every series the
// exporter can make, so this is the worst case per cgroup.
Snapshot snapshot_of_500(uint64_t tick) {
  Snapshot snapshot;
  snapshot.wall = WallTime(std::chrono::seconds(1763833500 + tick));
  Psi system;
  system.some = {3.1, 1.5, 0.4, 987654321 + tick * 1000};
  system.full = {1.2, 0.6, 0.1, 123456789 + tick * 500};
  snapshot.system_pressure = system;
  const char* slices[] = {"app.slice", "background.slice", "session.slice", "user.slice", "container.slice"};
  for (const char* slice : slices) {
    for (int i = 0; i < 100; ++i) {
      CgroupSample sample;
      sample.unit = i == 0 ? std::string(slice) : "unit-" + std::to_string(i) + ".service";
      sample.path = std::string(kManager) + "/" + slice + (i == 0 ? "" : "/" + sample.unit);
      sample.memory.current_bytes = 100'000'000 + static_cast<uint64_t>(i) * 4096 + tick;
      sample.memory.high_bytes = 3ULL << 30;
      sample.memory.max_bytes = 4ULL << 30;
      sample.memory.swap_current_bytes = 1'000'000;
      sample.memory.anon_bytes = 60'000'000;
      sample.memory.file_bytes = 40'000'000;
      sample.memory.shmem_bytes = 1'000'000;
      Psi psi;
      psi.some = {12.34, 5.67, 1.20, 12345678 + tick * 100};
      psi.full = {8.05, 3.10, 0.75, 7654321 + tick * 50};
      sample.pressure = psi;
      snapshot.cgroups.push_back(std::move(sample));
    }
  }
  return snapshot;
}

TickView view_of(const Snapshot& snapshot, const HostLayout& layout) {
  TickView view;
  view.snapshot = &snapshot;
  view.layout = &layout;
  view.level_name = "normal";
  return view;
}

void BM_Render500Cgroups(benchmark::State& state) {
  MetricsExporter exporter;
  HostLayout layout;
  layout.user_manager_path = kManager;
  const auto snapshot = snapshot_of_500(0);
  exporter.on_tick(view_of(snapshot, layout));
  size_t bytes = 0;
  for (auto _ : state) {
    const std::string body = exporter.render();
    bytes = body.size();
    benchmark::DoNotOptimize(body.data());
  }
  state.counters["body_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Render500Cgroups)->Unit(benchmark::kMillisecond);

void BM_Tick500Cgroups(benchmark::State& state) {
  MetricsExporter exporter;
  HostLayout layout;
  layout.user_manager_path = kManager;
  const auto first = snapshot_of_500(0);
  const auto second = snapshot_of_500(1);
  exporter.on_tick(view_of(first, layout));
  bool flip = false;
  for (auto _ : state) {
    exporter.on_tick(view_of(flip ? first : second, layout));  // values change; counters may restart
    flip = !flip;
  }
}
BENCHMARK(BM_Tick500Cgroups)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace guardian

BENCHMARK_MAIN();
