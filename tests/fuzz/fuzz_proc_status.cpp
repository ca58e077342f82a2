// libFuzzer target for the /proc/PID/status reader (VmLck, VmRSS) of sense/self_watch.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sense/self_watch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto memory = guardian::parse_proc_status_memory(text);
  // A size is whole KiB: nothing else may come out.
  if (memory && (memory->locked_bytes % 1024 != 0 || memory->rss_bytes % 1024 != 0)) __builtin_trap();
  (void)guardian::parse_memory_lock_mode(text);
  return 0;
}
