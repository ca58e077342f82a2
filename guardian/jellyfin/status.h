// The Jellyfin watcher's view, rendered for the parts that tell: Prometheus text (the metrics
// exporter appends it) and JSON (`guardian status`, `guardian sample --json` "jellyfin" key).
// Pure functions of the instances' latest state.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "jellyfin/instances.h"

namespace guardian::jellyfin {

// guardian_jellyfin_up, guardian_jellyfin_transcodes{acceleration}, guardian_jellyfin_transcode_pss_bytes,
// guardian_jellyfin_circuit_open, guardian_vaapi_available — one series per instance.
std::string render_metrics(const std::vector<Instance>& instances);
nlohmann::json status_json(const std::vector<Instance>& instances);

}  // namespace guardian::jellyfin
