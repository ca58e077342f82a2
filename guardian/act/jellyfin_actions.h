// The Jellyfin actions (docs/jellyfin.md). Each changes as little as it can and can be put back:
// what a server setting or a stopped task was before goes to the StateStore, per level and action,
// before the change (act/jellyfin_steering.h does that, and the restoring). They find their
// instance through ActionEnv::jellyfin at apply time.
//   jellyfin.prefer-vaapi                 EnableHardwareEncoding + HardwareDecodingCodecs
//   jellyfin.cheaper-software             preset, threads, CRF, muxing queue, throttling, segments
//   jellyfin.respawn-software-transcodes  SIGTERM software playback ffmpegs in the instance's cgroup
//   jellyfin.pause-background-tasks       stop running scheduled tasks; restart them on revert
//   jellyfin.cap-bitrate                  SetMaxStreamingBitrate + a message to transcoding clients
//   jellyfin.stop-lowest-priority         message, then stop, the lowest-priority transcode
//
// The files: jellyfin_actions.cpp (registration and parameter checks), jellyfin_encoding_plan.*
// (the pure change computation), jellyfin_steering.* (per-instance writes, saved state, restores,
// retries), jellyfin_settings_actions.cpp (the EncodingOptions and task actions),
// jellyfin_session_actions.cpp (cap-bitrate, stop-lowest-priority), jellyfin_respawn_action.cpp.
#pragma once

#include "act/action.h"
#include "act/jellyfin_encoding_plan.h"

namespace guardian {

void register_jellyfin_actions(ActionRegistry& registry);

}  // namespace guardian
