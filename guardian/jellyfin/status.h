// The Jellyfin watcher's view, rendered for the parts that tell: the rows the metrics exporter
// publishes (guardian_jellyfin_transcodes / _transcode_memory_bytes) and JSON for status output.
// Pure functions of the instances' latest state.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "jellyfin/instances.h"
#include "jellyfin/transcode_totals.h"

namespace guardian::jellyfin {

// Per instance: playback transcodes by "software" or the hardware API of the encoder ("vaapi", …),
// with their summed PSS.
std::vector<JellyfinTranscodeTotals> transcode_totals(const std::vector<Instance>& instances);
nlohmann::json status_json(const std::vector<Instance>& instances);

}  // namespace guardian::jellyfin
