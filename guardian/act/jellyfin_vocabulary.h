// Jellyfin's own spellings that the jellyfin.* actions check parameters and saved values against
// (MediaBrowser.Model: EncoderPreset, HardwareAccelerationType, the HardwareDecodingCodecs names
// the dashboard offers).
#pragma once

#include <algorithm>
#include <array>
#include <string>
#include <string_view>

namespace guardian {

// EncoderPreset, slowest (most memory and CPU per frame) to fastest.
inline constexpr std::array<std::string_view, 10> kPresets = {"placebo",   "veryslow", "slower", "slow",
                                                              "medium",    "fast",     "faster", "veryfast",
                                                              "superfast", "ultrafast"};
inline constexpr std::array<std::string_view, 7> kCodecs = {"h264", "hevc", "mpeg2video", "vc1",
                                                            "vp8",  "vp9",  "av1"};
inline constexpr std::array<std::string_view, 8> kHardwareAccelerationTypes = {
    "none", "amf", "qsv", "nvenc", "v4l2m2m", "vaapi", "videotoolbox", "rkmpp"};

inline int preset_rank(const std::string& preset) {
  auto it = std::find(kPresets.begin(), kPresets.end(), preset);
  // "auto" / "" let Jellyfin choose (it picks "veryfast" for x264 on 10.10): rank as medium.
  return it == kPresets.end() ? 4 : static_cast<int>(it - kPresets.begin());
}

}  // namespace guardian
