// The VA-API probe: can this machine's GPU take Jellyfin's transcodes, and which codecs does it
// really decode? It loads libva and the FFmpeg libraries with dlopen() — only in the short-lived
// `guardian probe vaapi` process: mapping them costs ~21 MB of RSS, which the daemon never pays
// (it runs the probe as a child and reads its JSON, run_probe_child below).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/host_root.h"
#include "common/result.h"

namespace guardian {

struct VaapiProfile {
  std::string name;               // vaProfileStr(): "VAProfileH264Main"
  bool decode = false;            // VAEntrypointVLD
  bool encode = false;            // VAEntrypointEncSlice
  bool encode_low_power = false;  // VAEntrypointEncSliceLP
};

struct VaapiProbeResult {
  std::string render_node = "/dev/dri/renderD128";
  // The device node and its permissions.
  bool node_exists = false;
  bool node_openable = false;  // open(O_RDWR) worked for this user
  std::string node_group;      // "render"
  uint32_t node_mode = 0;      // st_mode & 07777
  bool user_in_node_group = false;
  // libva.
  bool libva_loaded = false;
  bool va_initialized = false;
  std::string va_version;  // "1.17"
  std::string vendor;      // vaQueryVendorString
  std::vector<VaapiProfile> profiles;
  // FFmpeg.
  bool ffmpeg_loaded = false;
  bool ffmpeg_hwdevice = false;                    // av_hwdevice_ctx_create(AV_HWDEVICE_TYPE_VAAPI) worked
  std::vector<std::string> ffmpeg_vaapi_encoders;  // of h264_vaapi, hevc_vaapi, av1_vaapi
  // Derived: what to put in Jellyfin's HardwareDecodingCodecs (its names, its order).
  std::vector<std::string> hardware_decoding_codecs;
  std::vector<std::string> hardware_encoding_codecs;  // "h264", "hevc", "av1" with an encode entrypoint
  std::vector<std::string> errors;                    // each step that failed, with the reason and the path

  // VA-API can take transcodes: the device opens, libva initialises, FFmpeg creates the device,
  // and the hardware decodes at least one codec and encodes H.264 or HEVC.
  [[nodiscard]] bool available() const;
};

// Maps VA profiles (with a VLD entrypoint) to Jellyfin's HardwareDecodingCodecs names, in
// Jellyfin's order: h264, hevc, mpeg2video, vc1, vp8, vp9, av1. Likewise for encode.
std::vector<std::string> decoding_codecs_from_profiles(const std::vector<VaapiProfile>& profiles);
std::vector<std::string> encoding_codecs_from_profiles(const std::vector<VaapiProfile>& profiles);

// Runs the probe in this process (the `guardian probe vaapi` subcommand).
VaapiProbeResult probe_vaapi(const HostRoot& host, const std::string& render_node);

nlohmann::json probe_result_to_json(const VaapiProbeResult& result);
// Parses `guardian probe vaapi --json` output (the daemon reads it from the child). Pure, fuzzable.
Result<VaapiProbeResult> parse_probe_result(std::string_view json_text);

// Runs `binary probe vaapi --json --device NODE [--host-root DIR]` as a child, reads its stdout
// until `deadline`, kills it (it is our child) if it overruns.
Result<VaapiProbeResult> run_probe_child(const std::string& binary, const std::string& render_node,
                                         const std::string& host_root, std::chrono::milliseconds timeout);

}  // namespace guardian
