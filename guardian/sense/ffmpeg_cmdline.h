// What an ffmpeg process is doing, read from its command line (/proc/PID/cmdline: arguments
// separated by NUL). Jellyfin's own view (TranscodingInfo.HardwareAccelerationType) is copied
// from the configuration, not from the job, so the command line is the truth:
//   -codec:v:0 h264_vaapi|hevc_vaapi|av1_vaapi (any *_vaapi, *_qsv, *_nvenc, …) = hardware encode
//   -hwaccel vaapi before -i                                                 = hardware decode
//   -codec:v:0 libx264|libx265|libsvtav1 (any other encoder)                 = software encode
//   -codec:v:0 copy                                                          = remux
// Not playback: trickplay tiles (-f image2 / tile= / .jpg output), -dump_attachment, image and
// chapter-image extraction, subtitle extraction (-vn -an, or a subtitle output).
// Pure functions, fuzzable (tests/fuzz/fuzz_ffmpeg_cmdline.cpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace guardian {

enum class FfmpegJobKind {
  Playback,         // a stream to a client: HLS segments or a progressive file/pipe
  Trickplay,        // scrubbing thumbnails
  ImageExtraction,  // a poster / chapter image
  SubtitleExtraction,
  AttachmentExtraction,  // fonts (-dump_attachment)
  Other,                 // probing, anything not recognised
};
std::string_view job_kind_name(FfmpegJobKind kind);

enum class VideoEncode { Software, Hardware, Copy, None };
std::string_view video_encode_name(VideoEncode encode);  // "software", "hardware", "copy", "none"

struct FfmpegCommand {
  std::vector<std::string> argv;
  FfmpegJobKind kind = FfmpegJobKind::Other;
  VideoEncode encode = VideoEncode::None;
  std::string video_encoder;     // "libx264", "h264_vaapi", "copy", "" (none given)
  std::string hardware_api;      // "vaapi", "qsv", "nvenc", … from the encoder or -hwaccel; "" = none
  bool hardware_decode = false;  // -hwaccel X (X != none)
  std::string input_path;        // the first -i, "file:" prefix and quotes removed
  std::string output_format;     // the last -f before the output ("hls", "image2", "mp4", …)
  std::string output_path;       // the last argument
  std::string preset;            // -preset
  std::optional<int> threads;    // -threads (the output's, i.e. the last one)

  // A software video transcode serving a client: what jellyfin.respawn-software-transcodes may end.
  [[nodiscard]] bool software_playback() const {
    return kind == FfmpegJobKind::Playback && encode == VideoEncode::Software;
  }
};

// Splits /proc/PID/cmdline (NUL-separated, usually NUL-terminated).
std::vector<std::string> split_cmdline(std::string_view raw);

// Classifies an argv. Errors: empty argv, or argv[0] is not an ffmpeg.
Result<FfmpegCommand> parse_ffmpeg_cmdline(std::vector<std::string> argv);
Result<FfmpegCommand> parse_ffmpeg_cmdline(std::string_view raw_cmdline);

}  // namespace guardian
