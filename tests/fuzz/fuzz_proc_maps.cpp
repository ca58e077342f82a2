// libFuzzer target for the /proc/PID/maps reader of sense/self_watch and the loop lock's plan
// over what it read (which mappings --lock-memory=loop locks, within RLIMIT_MEMLOCK).
#include <cstddef>
#include <cstdint>
#include <string_view>

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
  return 0;
}
