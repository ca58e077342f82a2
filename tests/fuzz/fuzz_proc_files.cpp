// libFuzzer target: /proc/PID/smaps_rollup, /proc/PID/stat (starttime) and cgroup.procs parsers.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "jellyfin/transcodes.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto memory = guardian::parse_smaps_rollup(text);
  if (memory.ok() && memory->rss_bytes % 1024 != 0) std::abort();
  (void)guardian::parse_proc_stat_start_time(text);
  auto pids = guardian::parse_cgroup_procs(text);
  if (pids.ok()) {
    for (int pid : *pids) {
      if (pid <= 0) std::abort();
    }
  }
  return 0;
}
