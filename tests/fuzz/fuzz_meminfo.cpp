// libFuzzer target for the /proc/meminfo parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sense/meminfo.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto info = guardian::parse_meminfo(std::string_view(reinterpret_cast<const char*>(data), size));
  // Every value is whole KiB.
  if (info.ok() && (info->total_bytes % 1024 != 0 || info->swap_free_bytes % 1024 != 0)) __builtin_trap();
  return 0;
}
