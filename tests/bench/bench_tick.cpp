// The cost of one sense tick: Sampler::sample() over a generated host root (gen_cgroups.py),
// against the bare cost of reading the same files once (open + read + close, no parsing).
//
//   GUARDIAN_BENCH_ROOT=/tmp/bench500 ./bench_tick                 Google Benchmark run
//   GUARDIAN_BENCH_ROOT=/tmp/bench500 ./bench_tick --ticks 100     plain loop, for callgrind
//   GUARDIAN_BENCH_ROOT=/tmp/bench500 ./bench_tick --read-once 100 plain loop of the bare reads
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "sense/sampler.h"

// Under callgrind (--collect-atstart=no) only the measured loops are counted.
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define GUARDIAN_COLLECT_TOGGLE() CALLGRIND_TOGGLE_COLLECT
#else
#define GUARDIAN_COLLECT_TOGGLE() (void)0
#endif

namespace {

std::string bench_root() {
  const char* root = std::getenv("GUARDIAN_BENCH_ROOT");
  if (root == nullptr || *root == '\0') {
    std::fprintf(stderr,
                 "bench_tick: set GUARDIAN_BENCH_ROOT to a tree made by tests/bench/gen_cgroups.py\n");
    std::exit(2);
  }
  return root;
}

guardian::SamplerOptions options_for(unsigned rescan_every_ticks) {
  guardian::SamplerOptions options;
  options.uid = 1000;
  options.rescan_every_ticks = rescan_every_ticks;
  return options;
}

// Exactly the files a tick reads: /proc/meminfo, /proc/pressure/memory and every memory.* file.
std::vector<std::string> files_of_a_tick(const std::string& root) {
  std::vector<std::string> files = {root + "/proc/meminfo", root + "/proc/pressure/memory"};
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root + "/sys/fs/cgroup")) {
    if (entry.is_regular_file() && entry.path().filename().string().rfind("memory.", 0) == 0) {
      files.push_back(entry.path().string());
    }
  }
  return files;
}

size_t read_all_once(const std::vector<std::string>& files) {
  static char buffer[16384];
  size_t bytes = 0;
  for (const auto& file : files) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0) bytes += static_cast<size_t>(n);
    ::close(fd);
  }
  return bytes;
}

void check_tree(const guardian::Sampler& sampler, const guardian::Snapshot& snapshot) {
  if (sampler.layout().system_only() || snapshot.cgroups.size() < 6) {
    std::fprintf(stderr, "bench_tick: %s is not a generated tree (%s)\n", bench_root().c_str(),
                 sampler.layout().system_only_reason.c_str());
    std::exit(2);
  }
}

void BM_SampleTick(benchmark::State& state) {
  guardian::Sampler sampler(guardian::HostRoot(bench_root()),
                            options_for(static_cast<unsigned>(state.range(0))));
  check_tree(sampler, sampler.sample());  // first tick opens every fd
  size_t cgroups = 0;
  for (auto _ : state) {
    auto snapshot = sampler.sample();
    cgroups = snapshot.cgroups.size();
    benchmark::DoNotOptimize(snapshot);
  }
  state.counters["cgroups"] = static_cast<double>(cgroups);
}
// rescan_every_ticks: 5 (the default), never, and every tick (re-walk + xattrs each time).
BENCHMARK(BM_SampleTick)->Arg(5)->Arg(1000000)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_ReadFilesOnce(benchmark::State& state) {
  const auto files = files_of_a_tick(bench_root());
  for (auto _ : state) benchmark::DoNotOptimize(read_all_once(files));
  state.counters["files"] = static_cast<double>(files.size());
}
BENCHMARK(BM_ReadFilesOnce)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && (std::strcmp(argv[1], "--ticks") == 0 || std::strcmp(argv[1], "--read-once") == 0)) {
    const long rounds = std::strtol(argv[2], nullptr, 10);
    if (std::strcmp(argv[1], "--ticks") == 0) {
      guardian::Sampler sampler(guardian::HostRoot(bench_root()), options_for(5));
      check_tree(sampler, sampler.sample());  // the first tick opens every fd: not counted
      size_t cgroups = 0;
      GUARDIAN_COLLECT_TOGGLE();
      for (long i = 0; i < rounds; ++i) cgroups += sampler.sample().cgroups.size();
      GUARDIAN_COLLECT_TOGGLE();
      std::printf("%ld ticks, %zu cgroups per tick\n", rounds,
                  cgroups / static_cast<size_t>(rounds > 0 ? rounds : 1));
    } else {
      const auto files = files_of_a_tick(bench_root());
      size_t bytes = 0;
      GUARDIAN_COLLECT_TOGGLE();
      for (long i = 0; i < rounds; ++i) bytes += read_all_once(files);
      GUARDIAN_COLLECT_TOGGLE();
      std::printf("%ld rounds, %zu files, %zu bytes per round\n", rounds, files.size(),
                  bytes / static_cast<size_t>(rounds > 0 ? rounds : 1));
    }
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
