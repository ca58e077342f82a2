// Typed views of the Jellyfin JSON guardian reads. Field names and types follow the models that
// @jellyfin/sdk generates from Jellyfin's OpenAPI document (0.11 = server 10.10, 0.12 = 10.11).
// Parsers are pure and fuzzable: bad JSON or a field of the wrong type becomes an error naming
// the endpoint and the field ("GET /Sessions: [1].TranscodingInfo.Width: expected a number, got
// a string"); fields guardian does not use are ignored, missing optional fields are defaults.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace guardian::jellyfin {

// GET /System/Configuration/encoding. Kept whole as JSON: guardian POSTs the whole object back
// with only its own fields changed (missing fields would reset to Jellyfin's defaults).
struct EncodingOptions {
  nlohmann::json raw;  // always an object

  // The fields guardian reads; absent fields read as Jellyfin's defaults would.
  [[nodiscard]] std::string hardware_acceleration_type() const;  // "none", "vaapi", … (lower-cased)
  [[nodiscard]] bool enable_hardware_encoding() const;
  [[nodiscard]] std::vector<std::string> hardware_decoding_codecs() const;
  [[nodiscard]] std::string vaapi_device() const;
  [[nodiscard]] std::string encoder_preset() const;
};
// `endpoint` names the source in errors ("GET /System/Configuration/encoding").
Result<EncodingOptions> parse_encoding_options(std::string_view body, std::string_view endpoint);

// The fields of EncodingOptions guardian may change, with the JSON type each must have; a policy
// can only name these, and the fake server test checks nothing else moved.
inline constexpr std::string_view kGuardianEncodingFields[] = {
    "EnableHardwareEncoding",
    "HardwareDecodingCodecs",
    "HardwareAccelerationType",
    "EncoderPreset",
    "EncodingThreadCount",
    "H264Crf",
    "H265Crf",
    "MaxMuxingQueueSize",
    "EnableThrottling",
    "EnableSegmentDeletion",
    "SegmentKeepSeconds",
};

struct TranscodingInfo {
  std::string video_codec;
  std::string audio_codec;
  std::string container;
  bool is_video_direct = false;
  bool is_audio_direct = false;
  std::optional<int64_t> bitrate;
  std::optional<int64_t> width;
  std::optional<int64_t> height;
  std::optional<double> completion_percentage;
  // Copied by Jellyfin from the *configuration*, not from the job: the ffmpeg command line is
  // the truth about hardware use (sense/ffmpeg_cmdline.h).
  std::string hardware_acceleration_type;
  std::vector<std::string> transcode_reasons;
};

struct SessionInfo {
  std::string id;
  std::string user_id;
  std::string user_name;
  std::string client;  // "Jellyfin Web", "Jellyfin Android TV", …
  std::string device_name;
  std::string device_id;
  bool is_active = false;
  bool supports_remote_control = false;
  bool is_paused = false;  // PlayState.IsPaused
  // NowPlayingItem, when something plays.
  std::optional<std::string> now_playing_id;
  std::string now_playing_name;
  std::string now_playing_path;  // matches the ffmpeg input after -i file:"…"
  std::optional<TranscodingInfo> transcoding;
  [[nodiscard]] bool playing() const { return now_playing_id.has_value(); }
};
Result<std::vector<SessionInfo>> parse_sessions(std::string_view body, std::string_view endpoint);

// GET /ScheduledTasks: TaskInfo.
struct ScheduledTask {
  std::string id;
  std::string name;
  std::string key;       // "RefreshTrickplayImages", "RefreshLibrary", …
  std::string category;  // "Library", "Maintenance", …
  std::string state;     // "Idle", "Cancelling", "Running"
  bool is_hidden = false;
  std::optional<double> progress_percent;
};
Result<std::vector<ScheduledTask>> parse_scheduled_tasks(std::string_view body, std::string_view endpoint);

}  // namespace guardian::jellyfin
