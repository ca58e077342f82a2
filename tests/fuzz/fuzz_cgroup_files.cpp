// libFuzzer target for the cgroup v2 memory file parsers: single values, memory.stat and
// memory.events share the input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sense/cgroup_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)guardian::parse_cgroup_value(text);
  guardian::CgroupMemory memory;
  memory.anon_bytes = 7;
  // A failed parse must leave the target untouched.
  if (!guardian::parse_memory_stat(text, memory).ok() && memory.anon_bytes != 7) __builtin_trap();
  guardian::CgroupMemory events;
  events.events_high = 7;
  if (!guardian::parse_memory_events(text, events).ok() && events.events_high != 7) __builtin_trap();
  return 0;
}
