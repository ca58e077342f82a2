#include "sense/ffmpeg_cmdline.h"

#include <algorithm>
#include <array>

#include "common/units.h"

namespace guardian {
namespace {

bool ends_with_any(std::string_view text, std::initializer_list<std::string_view> suffixes) {
  return std::any_of(suffixes.begin(), suffixes.end(), [&](std::string_view s) { return text.ends_with(s); });
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Video codec options: -c:v, -codec:v, -vcodec, with optional stream index (-codec:v:0).
bool is_video_codec_option(std::string_view arg) {
  if (arg == "-vcodec") return true;
  for (std::string_view prefix : {"-c:v", "-codec:v"}) {
    if (arg == prefix) return true;
    if (arg.starts_with(prefix) && arg.size() > prefix.size() && arg[prefix.size()] == ':') return true;
  }
  return false;
}

// The hardware API an encoder name belongs to ("h264_vaapi" -> "vaapi"), or "".
std::string hardware_api_of_encoder(std::string_view encoder) {
  static constexpr std::array<std::string_view, 8> kApis = {"vaapi",   "qsv",          "nvenc", "amf",
                                                            "v4l2m2m", "videotoolbox", "rkmpp", "vulkan"};
  for (std::string_view api : kApis) {
    if (encoder.size() > api.size() + 1 && encoder.ends_with(api) &&
        encoder[encoder.size() - api.size() - 1] == '_') {
      return std::string(api);
    }
  }
  return "";
}

std::string strip_input(std::string_view input) {
  if (input.starts_with("file:")) input.remove_prefix(5);
  if (input.size() >= 2 && input.front() == '"' && input.back() == '"')
    input = input.substr(1, input.size() - 2);
  return std::string(input);
}

}  // namespace

std::string_view job_kind_name(FfmpegJobKind kind) {
  switch (kind) {
    case FfmpegJobKind::Playback: return "playback";
    case FfmpegJobKind::Trickplay: return "trickplay";
    case FfmpegJobKind::ImageExtraction: return "image-extraction";
    case FfmpegJobKind::SubtitleExtraction: return "subtitle-extraction";
    case FfmpegJobKind::AttachmentExtraction: return "attachment-extraction";
    case FfmpegJobKind::Other: return "other";
  }
  return "other";
}

std::string_view video_encode_name(VideoEncode encode) {
  switch (encode) {
    case VideoEncode::Software: return "software";
    case VideoEncode::Hardware: return "hardware";
    case VideoEncode::Copy: return "copy";
    case VideoEncode::None: return "none";
  }
  return "none";
}

std::vector<std::string> split_cmdline(std::string_view raw) {
  std::vector<std::string> argv;
  while (!raw.empty()) {
    auto nul = raw.find('\0');
    argv.emplace_back(raw.substr(0, nul));
    if (nul == std::string_view::npos) break;
    raw.remove_prefix(nul + 1);
  }
  return argv;
}

Result<FfmpegCommand> parse_ffmpeg_cmdline(std::string_view raw_cmdline) {
  return parse_ffmpeg_cmdline(split_cmdline(raw_cmdline));
}

Result<FfmpegCommand> parse_ffmpeg_cmdline(std::vector<std::string> argv) {
  if (argv.empty()) return make_error("empty command line (a kernel thread or a zombie)");
  std::string_view program = argv[0];
  auto slash = program.rfind('/');
  std::string_view base = slash == std::string_view::npos ? program : program.substr(slash + 1);
  if (base != "ffmpeg") return make_error("not an ffmpeg: \"" + std::string(base.substr(0, 64)) + "\"");

  FfmpegCommand command;
  bool seen_input = false;
  bool dump_attachment = false;
  bool no_video = false;
  bool no_audio = false;
  bool single_frame = false;
  bool tile_filter = false;
  bool subtitle_map_only = false;
  for (size_t i = 1; i < argv.size(); ++i) {
    std::string_view arg = argv[i];
    bool has_value = i + 1 < argv.size();
    std::string_view value = has_value ? std::string_view(argv[i + 1]) : std::string_view();
    if (arg == "-i" && has_value) {
      if (!seen_input) command.input_path = strip_input(value);
      seen_input = true;
      ++i;
    } else if (arg == "-hwaccel" && has_value) {
      std::string api = lower(value);
      if (api != "none" && !api.empty()) {
        command.hardware_decode = true;
        if (command.hardware_api.empty()) command.hardware_api = api;
      }
      ++i;
    } else if (is_video_codec_option(arg) && has_value) {
      command.video_encoder = std::string(value);
      ++i;
    } else if (arg == "-f" && has_value) {
      if (seen_input) command.output_format = lower(value);
      ++i;
    } else if (arg == "-preset" && has_value) {
      command.preset = std::string(value);
      ++i;
    } else if (arg == "-threads" && has_value) {
      if (auto n = parse_u64(value); n && *n < 4096) command.threads = static_cast<int>(*n);
      ++i;
    } else if (arg.starts_with("-dump_attachment")) {
      dump_attachment = true;
      if (has_value) ++i;
    } else if (arg == "-vn") {
      no_video = true;
    } else if (arg == "-an") {
      no_audio = true;
    } else if ((arg == "-vframes" || arg == "-frames:v" || arg == "-frames:v:0") && has_value) {
      single_frame = value == "1";
      ++i;
    } else if ((arg == "-vf" || arg == "-filter:v" || arg == "-filter_complex") && has_value) {
      if (value.find("tile=") != std::string_view::npos) tile_filter = true;
      ++i;
    } else if (arg == "-map" && has_value) {
      // "-map 0:s:0" alone (with -vn -an) is a subtitle extraction.
      if (value.find(":s") != std::string_view::npos && no_video) subtitle_map_only = true;
      ++i;
    }
  }
  command.output_path = argv.size() > 1 ? argv.back() : std::string();
  std::string output = lower(command.output_path);

  std::string encoder = lower(command.video_encoder);
  if (encoder == "copy") {
    command.encode = VideoEncode::Copy;
  } else if (encoder.empty() || no_video) {
    command.encode = VideoEncode::None;
  } else if (std::string api = hardware_api_of_encoder(encoder); !api.empty()) {
    command.encode = VideoEncode::Hardware;
    command.hardware_api = api;
  } else {
    command.encode = VideoEncode::Software;
  }

  bool image_output = command.output_format == "image2" || command.output_format == "image2pipe" ||
                      ends_with_any(output, {".jpg", ".jpeg", ".png", ".webp", ".bmp"});
  bool subtitle_output = ends_with_any(output, {".srt", ".ass", ".ssa", ".vtt", ".sup", ".ttml"}) ||
                         command.output_format == "webvtt" || command.output_format == "srt" ||
                         command.output_format == "ass";
  if (!seen_input) {
    command.kind = FfmpegJobKind::Other;  // -version, -encoders, -hwaccels: Jellyfin's probes
  } else if (dump_attachment) {
    command.kind = FfmpegJobKind::AttachmentExtraction;
  } else if (tile_filter || (image_output && !single_frame && output.find('%') != std::string::npos)) {
    command.kind = FfmpegJobKind::Trickplay;
  } else if (image_output) {
    command.kind = FfmpegJobKind::ImageExtraction;
  } else if (subtitle_output || subtitle_map_only || (no_video && no_audio)) {
    command.kind = FfmpegJobKind::SubtitleExtraction;
  } else if (command.output_format == "hls" || output.ends_with(".m3u8") ||
             command.encode != VideoEncode::None || !command.video_encoder.empty() ||
             command.output_format == "mp4" || command.output_format == "matroska" ||
             command.output_format == "mpegts" || command.output_format == "webm") {
    command.kind = FfmpegJobKind::Playback;
  } else {
    command.kind = FfmpegJobKind::Other;
  }
  command.argv = std::move(argv);
  return command;
}

}  // namespace guardian
