// libFuzzer target for the /proc/PID/maps reader of sense/self_watch and the loop lock's plans
// over what it read (which mappings --lock-memory=loop locks, within RLIMIT_MEMLOCK), and for the
// page-run reader (the fixture format of the shared libraries' present pages) with the shared
// pages' plan over both.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "sense/self_watch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto maps = guardian::parse_proc_maps(text);
  for (const auto& mapping : maps) {
    if (mapping.end <= mapping.start) __builtin_trap();  // only real ranges come out
  }
  const uintptr_t stack = maps.empty() ? 0 : maps.back().start;
  for (uint64_t limit : {uint64_t{64} << 10, uint64_t{8} << 20, UINT64_MAX}) {
    const auto plan = guardian::plan_loop_lock(maps, "/usr/local/bin/guardian", stack, limit);
    uint64_t locked = 0, left = 0;
    for (const auto& part : plan.parts) locked += part.bytes;
    for (const auto& part : plan.left_out) left += part.bytes;
    // What is locked is what the plan says, within the limit less its reserve; nothing is lost.
    if (locked != plan.bytes || locked + left != plan.wanted_bytes) __builtin_trap();
    if (limit != UINT64_MAX && plan.bytes > limit - guardian::memlock_reserve(limit)) __builtin_trap();
  }
  // The same text as page runs (the reader keeps only aligned, non-empty ones), made sorted and
  // disjoint as read_present_pages gives them; half of them taken as locked already.
  auto runs = guardian::parse_page_runs(text);
  for (const auto& run : runs) {
    if (run.end <= run.start || run.start % 4096 != 0 || run.end % 4096 != 0) __builtin_trap();
  }
  std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.start < b.start; });
  std::vector<guardian::PageRun> present, locked;
  for (const auto& run : runs) {
    if (!present.empty() && run.start < present.back().end) continue;
    present.push_back(run);
    if (present.size() % 2 == 0) locked.push_back(run);
  }
  for (uint64_t room : {uint64_t{0}, uint64_t{64} << 10, UINT64_MAX}) {
    const auto plan =
        guardian::plan_shared_pages_lock(maps, "/usr/local/bin/guardian", present, locked, room);
    uint64_t bytes = 0;
    for (const auto& run : plan.runs) {
      if (run.end <= run.start) __builtin_trap();
      bytes += run.end - run.start;
      for (const auto& held : locked)
        if (run.start < held.end && held.start < run.end) __builtin_trap();  // locked twice
    }
    if (bytes != plan.bytes || plan.bytes > room || plan.bytes + plan.left_out_bytes != plan.wanted_bytes)
      __builtin_trap();
  }
  return 0;
}
