// Command lines as Jellyfin 10.10/10.11 builds them (the software HLS one from
// tests/support/jellyfin_ffmpeg.h), as they appear in /proc/PID/cmdline.
#include "sense/ffmpeg_cmdline.h"

#include <gtest/gtest.h>

#include "support/jellyfin_ffmpeg.h"

namespace guardian {
namespace {

std::string nul_join(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) {
    out += a;
    out.push_back('\0');
  }
  return out;
}

const std::vector<std::string> kSoftwareHls = testing::jellyfin_software_hls_cmdline(
    {.input = "/media/movies/Big Buck Bunny (2008)/Big Buck Bunny.mkv",
     .output_prefix = "/cache/transcodes/5d1b9a1c2e3f4a5b6c7d8e9f0a1b2c3d"});

TEST(FfmpegCmdline, SoftwareHlsPlayback) {
  auto command = parse_ffmpeg_cmdline(nul_join(kSoftwareHls));
  ASSERT_TRUE(command.ok()) << command.error().message;
  EXPECT_EQ(command->kind, FfmpegJobKind::Playback);
  EXPECT_EQ(command->encode, VideoEncode::Software);
  EXPECT_TRUE(command->software_playback());
  EXPECT_EQ(command->video_encoder, "libx264");
  EXPECT_FALSE(command->hardware_decode);
  EXPECT_EQ(command->input_path, "/media/movies/Big Buck Bunny (2008)/Big Buck Bunny.mkv");
  EXPECT_EQ(command->output_format, "hls");
  EXPECT_EQ(command->preset, "veryfast");
  EXPECT_EQ(command->threads, 0);
}

TEST(FfmpegCmdline, VaapiFullHardware) {
  std::vector<std::string> args = {"/usr/lib/jellyfin-ffmpeg/ffmpeg",
                                   "-analyzeduration",
                                   "200M",
                                   "-probesize",
                                   "1G",
                                   "-init_hw_device",
                                   "vaapi=va:/dev/dri/renderD128,driver=iHD",
                                   "-filter_hw_device",
                                   "va",
                                   "-hwaccel",
                                   "vaapi",
                                   "-hwaccel_output_format",
                                   "vaapi",
                                   "-noautorotate",
                                   "-f",
                                   "matroska",
                                   "-i",
                                   "file:/media/shows/Bluey/Season 01/Bluey S01E01.mkv",
                                   "-map_metadata",
                                   "-1",
                                   "-map",
                                   "0:0",
                                   "-map",
                                   "0:1",
                                   "-codec:v:0",
                                   "h264_vaapi",
                                   "-rc_mode",
                                   "VBR",
                                   "-b:v",
                                   "4000000",
                                   "-maxrate",
                                   "4000000",
                                   "-bufsize",
                                   "8000000",
                                   "-vf",
                                   "setparams=color_primaries=bt709,scale_vaapi=w=1280:h=720:format=nv12",
                                   "-codec:a:0",
                                   "copy",
                                   "-f",
                                   "hls",
                                   "-hls_time",
                                   "3",
                                   "-y",
                                   "/cache/transcodes/aa.m3u8"};
  auto command = parse_ffmpeg_cmdline(args);
  ASSERT_TRUE(command.ok());
  EXPECT_EQ(command->kind, FfmpegJobKind::Playback);
  EXPECT_EQ(command->encode, VideoEncode::Hardware);
  EXPECT_TRUE(command->hardware_decode);
  EXPECT_EQ(command->hardware_api, "vaapi");
  EXPECT_FALSE(command->software_playback());
}

TEST(FfmpegCmdline, HardwareDecodeSoftwareEncodeIsSoftware) {
  std::vector<std::string> args = {"ffmpeg",     "-hwaccel", "vaapi", "-i",  "file:/m/a.mkv",
                                   "-codec:v:0", "libx265",  "-f",    "hls", "/t/a.m3u8"};
  auto command = parse_ffmpeg_cmdline(args);
  ASSERT_TRUE(command.ok());
  EXPECT_TRUE(command->hardware_decode);
  EXPECT_EQ(command->encode, VideoEncode::Software);
  EXPECT_TRUE(command->software_playback());
}

TEST(FfmpegCmdline, RemuxIsCopy) {
  std::vector<std::string> args = {"ffmpeg", "-i", "file:/m/a.mkv", "-codec:v:0", "copy", "-codec:a:0",
                                   "aac",    "-f", "hls",           "/t/a.m3u8"};
  auto command = parse_ffmpeg_cmdline(args);
  ASSERT_TRUE(command.ok());
  EXPECT_EQ(command->kind, FfmpegJobKind::Playback);
  EXPECT_EQ(command->encode, VideoEncode::Copy);
  EXPECT_FALSE(command->software_playback());
}

TEST(FfmpegCmdline, NotPlayback) {
  // Trickplay tiles (Jellyfin 10.9+ TrickplayManager).
  auto trickplay = parse_ffmpeg_cmdline(std::vector<std::string>{"ffmpeg",
                                                                 "-loglevel",
                                                                 "error",
                                                                 "-threads",
                                                                 "1",
                                                                 "-skip_interval",
                                                                 "10",
                                                                 "-i",
                                                                 "file:/m/a.mkv",
                                                                 "-an",
                                                                 "-sn",
                                                                 "-vf",
                                                                 "fps=1/10,scale=320:-1",
                                                                 "-threads",
                                                                 "1",
                                                                 "-c:v",
                                                                 "mjpeg",
                                                                 "-qscale:v",
                                                                 "4",
                                                                 "-f",
                                                                 "image2",
                                                                 "/cache/temp/3f2e/%08d.jpg"});
  ASSERT_TRUE(trickplay.ok());
  EXPECT_EQ(trickplay->kind, FfmpegJobKind::Trickplay);
  EXPECT_FALSE(trickplay->software_playback());
  // Fonts for subtitle burn-in.
  auto attachment = parse_ffmpeg_cmdline(std::vector<std::string>{
      "ffmpeg", "-dump_attachment:t", "", "-y", "-i", "file:/m/a.mkv", "-t", "0", "-f", "null", "null"});
  ASSERT_TRUE(attachment.ok());
  EXPECT_EQ(attachment->kind, FfmpegJobKind::AttachmentExtraction);
  // Subtitle extraction.
  auto subtitle = parse_ffmpeg_cmdline(std::vector<std::string>{"ffmpeg", "-i", "file:/m/a.mkv", "-copyts",
                                                                "-map", "0:3", "-an", "-vn", "-c:s", "subrip",
                                                                "/cache/subtitles/a.srt"});
  ASSERT_TRUE(subtitle.ok());
  EXPECT_EQ(subtitle->kind, FfmpegJobKind::SubtitleExtraction);
  // A chapter image / poster.
  auto image = parse_ffmpeg_cmdline(std::vector<std::string>{
      "ffmpeg", "-ss", "00:05:00", "-i", "file:/m/a.mkv", "-threads", "0", "-v", "quiet", "-vframes", "1",
      "-vf", "scale=trunc(iw*sar):ih", "-f", "image2", "/cache/images/a.jpg"});
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(image->kind, FfmpegJobKind::ImageExtraction);
  // Jellyfin's start-up probes.
  auto version =
      parse_ffmpeg_cmdline(std::vector<std::string>{"/usr/lib/jellyfin-ffmpeg/ffmpeg", "-version"});
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version->kind, FfmpegJobKind::Other);
}

TEST(FfmpegCmdline, RejectsNonFfmpeg) {
  EXPECT_FALSE(parse_ffmpeg_cmdline(std::string_view("")).ok());
  EXPECT_FALSE(parse_ffmpeg_cmdline(nul_join({"/usr/bin/ffprobe", "-i", "x"})).ok());
  EXPECT_FALSE(
      parse_ffmpeg_cmdline(nul_join({"jellyfin", "--ffmpeg", "/usr/lib/jellyfin-ffmpeg/ffmpeg"})).ok());
}

}  // namespace
}  // namespace guardian
