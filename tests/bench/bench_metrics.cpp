// /metrics side by side: prometheus-cpp's Registry::Collect + TextSerializer (what the exporter
// serves) against the hand-written renderer it replaced (tell/exposition.h), over the same series,
// at 100 and 500 cgroups in one run; and the exporter's tick. Per scrape: CPU time, instructions
// (perf_event_open, user space; absent where the machine has no counter) and heap allocations.
// Goal: a scrape <= 10 ms of CPU at a realistic desktop size.
//   cmake --build build --target bench_metrics && ./build/tests/bench/bench_metrics
//
// Two shapes per size: "desktop" — 5 slices and their services, one in five services a
// container in container.slice, Jellyfin — where the exporter exports slices, containers and
// Jellyfin only (metrics_exporter.h); "every" — every cgroup a container, so every cgroup is
// exported: the worst case per cgroup (17 series each).
#include <benchmark/benchmark.h>
#include <linux/perf_event.h>
#include <prometheus/metric_family.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "tell/exposition.h"
#include "tell/metrics_exporter.h"

extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* pointer, size_t size);
}

namespace {
__thread bool t_counting = false;
std::atomic<uint64_t> g_allocations{0};
}  // namespace

extern "C" {
void* malloc(size_t size) {
  if (t_counting) ++g_allocations;
  return __libc_malloc(size);
}
void* calloc(size_t count, size_t size) {
  if (t_counting) ++g_allocations;
  return __libc_calloc(count, size);
}
void* realloc(void* pointer, size_t size) {
  if (t_counting) ++g_allocations;
  return __libc_realloc(pointer, size);
}
}

namespace guardian {
namespace {

constexpr const char* kManager = "/user.slice/user-1000.slice/user@1000.service";

// Instructions retired in user space by this thread, or -1 when the machine has no such counter.
class Instructions {
 public:
  Instructions() {
    perf_event_attr attr{};
    attr.type = PERF_TYPE_HARDWARE;
    attr.size = sizeof attr;
    attr.config = PERF_COUNT_HW_INSTRUCTIONS;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    fd_ = static_cast<int>(::syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
  }
  ~Instructions() {
    if (fd_ >= 0) ::close(fd_);
  }
  Instructions(const Instructions&) = delete;
  Instructions& operator=(const Instructions&) = delete;
  [[nodiscard]] int64_t read() const {
    uint64_t count = 0;
    if (fd_ < 0 || ::read(fd_, &count, sizeof count) != sizeof count) return -1;
    return static_cast<int64_t>(count);
  }

 private:
  int fd_ = -1;
};

// Values from a Fedora 42 desktop's cgroups (the incident machine, seed 002): PSI as the kernel
// prints it, MemoryHigh=3G/MemoryMax=4G as the incident's Jellyfin had.
Snapshot snapshot_of(int cgroups, bool every, uint64_t tick) {
  Snapshot snapshot;
  snapshot.wall = WallTime(std::chrono::seconds(1763833500 + tick));
  Psi system;
  system.some = {3.1, 1.5, 0.4, 987654321 + tick * 1000};
  system.full = {1.2, 0.6, 0.1, 123456789 + tick * 500};
  snapshot.system_pressure = system;
  const char* slices[] = {"app.slice", "background.slice", "session.slice", "user.slice", "container.slice"};
  const int per_slice = cgroups / 5;
  for (const char* slice : slices) {
    for (int i = 0; i < per_slice; ++i) {
      CgroupSample sample;
      const std::string in = every ? std::string("container.slice") : std::string(slice);
      if (i == 0 && (!every || std::string(slice) == "container.slice")) {
        sample.unit = in;
        sample.path = std::string(kManager) + "/" + in;
      } else {
        sample.unit =
            (std::string(slice) == "app.slice" && i == 1 ? std::string("jellyfin")
                                                         : std::string(slice, 3) + "-" + std::to_string(i)) +
            ".service";
        sample.path = std::string(kManager) + "/" + in + "/" + sample.unit;
      }
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
  // Pre-order as the sampler gives it: each slice before what is in it.
  std::stable_sort(snapshot.cgroups.begin(), snapshot.cgroups.end(),
                   [](const CgroupSample& a, const CgroupSample& b) { return a.path < b.path; });
  return snapshot;
}

TickView view_of(const Snapshot& snapshot, const HostLayout& layout) {
  TickView view;
  view.snapshot = &snapshot;
  view.layout = &layout;
  view.level_name = "normal";
  return view;
}

struct Exporter {
  MetricsExporter exporter;
  HostLayout layout;
  Snapshot snapshot;
  Exporter(int cgroups, bool every) : snapshot(snapshot_of(cgroups, every, 0)) {
    layout.user_manager_path = kManager;
    exporter.on_tick(view_of(snapshot, layout));
  }
};

template <typename Render>
void measure(benchmark::State& state, Render render) {
  Instructions instructions;
  size_t bytes = 0;
  const uint64_t allocations_before = g_allocations.load();
  const int64_t instructions_before = instructions.read();
  for (auto _ : state) {
    t_counting = true;
    const std::string body = render();
    t_counting = false;
    bytes = body.size();
    benchmark::DoNotOptimize(body.data());
  }
  const int64_t instructions_after = instructions.read();
  const double iterations = static_cast<double>(state.iterations());
  state.counters["body_bytes"] = static_cast<double>(bytes);
  state.counters["allocs"] = static_cast<double>(g_allocations.load() - allocations_before) / iterations;
  if (instructions_before >= 0 && instructions_after >= 0)
    state.counters["instructions"] =
        static_cast<double>(instructions_after - instructions_before) / iterations;
}

// What a scrape costs the exporter: Collect + TextSerializer (and its lock).
void BM_ScrapePrometheusCpp(benchmark::State& state) {
  Exporter e(static_cast<int>(state.range(0)), state.range(1) != 0);
  measure(state, [&] { return e.exporter.render(); });
  const std::string body = e.exporter.render();
  state.counters["samples"] = static_cast<double>(std::count(body.begin(), body.end(), '\n'));
}

// The same series through the hand-written renderer: TextFamilies filled from the exporter's own
// registry, each series' label block rendered once as that renderer did.
void BM_ScrapeHandWritten(benchmark::State& state) {
  Exporter e(static_cast<int>(state.range(0)), state.range(1) != 0);
  std::vector<std::unique_ptr<TextFamily>> families;
  for (const auto& family : e.exporter.collect()) {
    if (family.type != prometheus::MetricType::Counter && family.type != prometheus::MetricType::Gauge)
      continue;
    families.push_back(std::make_unique<TextFamily>(family.name, family.help,
                                                    family.type == prometheus::MetricType::Counter
                                                        ? TextFamily::Kind::Counter
                                                        : TextFamily::Kind::Gauge));
    for (const auto& metric : family.metric) {
      LabelPairs labels;
      for (const auto& label : metric.label) labels.emplace_back(label.name, label.value);
      families.back()->at(labels) =
          family.type == prometheus::MetricType::Counter ? metric.counter.value : metric.gauge.value;
    }
  }
  size_t reserve = 4096;
  measure(state, [&] {
    std::string out;
    out.reserve(reserve + reserve / 8);
    for (const auto& family : families) family->render(out);
    reserve = out.size();
    return out;
  });
}

// What the loop pays per tick once the series exist.
void BM_Tick(benchmark::State& state) {
  const int cgroups = static_cast<int>(state.range(0));
  const bool every = state.range(1) != 0;
  Exporter e(cgroups, every);
  const auto second = snapshot_of(cgroups, every, 1);
  bool flip = false;
  const uint64_t allocations_before = g_allocations.load();
  for (auto _ : state) {
    t_counting = true;
    e.exporter.on_tick(view_of(flip ? e.snapshot : second, e.layout));
    t_counting = false;
    flip = !flip;
  }
  state.counters["allocs"] = static_cast<double>(g_allocations.load() - allocations_before) /
                             static_cast<double>(state.iterations());
}

void sizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"cgroups", "every"});
  for (int every : {0, 1}) {
    for (int cgroups : {100, 500}) b->Args({cgroups, every});
  }
  b->Unit(benchmark::kMillisecond);
}
BENCHMARK(BM_ScrapePrometheusCpp)->Apply(sizes);
BENCHMARK(BM_ScrapeHandWritten)->Apply(sizes);
BENCHMARK(BM_Tick)->Apply(sizes);

}  // namespace
}  // namespace guardian

BENCHMARK_MAIN();
