// The Jellyfin actions (docs/jellyfin.md). Each changes as little as it can and can be put back:
// before the first change, the original values go to the StateStore (kind
// "jellyfin.encoding-options" or "jellyfin.scheduled-tasks") and a Restorer for that kind puts
// them back after a crash. They find their instance (URL, client, cgroup) in the daemon's
// jellyfin::InstanceDirectory (ActionEnv::jellyfin) at apply time.
//   jellyfin.prefer-vaapi                 EnableHardwareEncoding + HardwareDecodingCodecs
//   jellyfin.cheaper-software             preset, threads, CRF, muxing queue, throttling, segments
//   jellyfin.respawn-software-transcodes  SIGTERM software playback ffmpegs in the instance's cgroup
//   jellyfin.pause-background-tasks       stop running scheduled tasks; restart them on revert
//   jellyfin.cap-bitrate                  SetMaxStreamingBitrate + a message to transcoding clients
//   jellyfin.stop-lowest-priority         message, then stop, the lowest-priority transcode
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "act/action.h"
#include "jellyfin/client.h"
#include "jellyfin/models.h"

namespace guardian {

void register_jellyfin_actions(ActionRegistry& registry);

// State keys: "jellyfin/<instance>/encoding-options/<action type>" and
// "jellyfin/<instance>/scheduled-tasks".
inline constexpr const char* kJellyfinEncodingKind = "jellyfin.encoding-options";
inline constexpr const char* kJellyfinTasksKind = "jellyfin.scheduled-tasks";

// Pure: the EncodingOptions fields `action_type` would change given the current options, as
// {field: new value}; only fields whose value differs. Errors say why the action cannot apply
// (e.g. prefer-vaapi with HardwareAccelerationType "none").
Result<nlohmann::json> jellyfin_encoding_changes(const std::string& action_type, const ActionSpec& spec,
                                                 const jellyfin::EncodingOptions& current,
                                                 const std::vector<std::string>& probed_decoding_codecs,
                                                 bool transcodes_active);

// Puts back the fields saved by an encoding action (`saved_json` as written to the StateStore):
// GETs the current options, restores each field still holding guardian's value (a field the user
// changed since is left alone and named in the detail), POSTs the whole object.
Result<std::string> restore_jellyfin_encoding(jellyfin::Client& client, const nlohmann::json& saved,
                                              Deadline deadline);

}  // namespace guardian
