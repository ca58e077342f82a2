// The Jellyfin numbers the metrics exporter publishes (jellyfin/status computes them, the
// watcher hands them over): a plain row type, so tell needs nothing else of jellyfin/.
#pragma once

#include <cstdint>
#include <string>

namespace guardian {

// What the Jellyfin transcode view (issue 4) publishes: one row per instance and kind of
// acceleration. The instance becomes the label `jellyfin`, not `instance`: Prometheus sets
// `instance` to the scrape target and would rename ours to `exported_instance`. `hwaccel` is "software" for
// CPU transcodes, or Jellyfin's HardwareAccelerationType of the job ("vaapi", "qsv", …) as read from the
// ffmpeg command line.
struct JellyfinTranscodeTotals {
  std::string instance;  // the instance's name in the policy (bounded; not a URL, not a session)
  std::string hwaccel;   // "software", "vaapi", …
  uint32_t transcodes = 0;
  uint64_t memory_bytes = 0;  // summed PSS of those ffmpeg processes (RSS counts shared libraries twice)
};

}  // namespace guardian
