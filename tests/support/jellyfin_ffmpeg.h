// Jellyfin's ffmpeg command lines as Jellyfin 10.10/10.11 builds them
// (MediaBrowser.Controller/MediaEncoding/EncodingHelper.cs and the HLS controller), as they appear
// in /proc/PID/cmdline: .NET splits Jellyfin's argument string, so file:"…" arrives without the
// quotes. One builder serves the parser's tests and the real ffmpeg jobs, so the command line
// guardian is tested to classify is the one the real jobs run.
#pragma once

#include <string>
#include <vector>

namespace guardian::testing {

struct JellyfinHlsJob {
  std::string ffmpeg = "/usr/lib/jellyfin-ffmpeg/ffmpeg";
  std::string input;          // the media file, without the file: prefix
  std::string output_prefix;  // segments "<prefix>%d.ts", playlist "<prefix>.m3u8"
  // -re reads the input at its own rate. Jellyfin throttles instead; for a real job -re keeps
  // ffmpeg alive while a test looks at it.
  bool realtime = false;
};

// A software H.264 HLS transcode: libx264, veryfast, CRF 23, scaled to at most 1920 wide.
std::vector<std::string> jellyfin_software_hls_cmdline(const JellyfinHlsJob& job);
// A remux to HLS: the video stream copied, the audio to AAC.
std::vector<std::string> jellyfin_remux_hls_cmdline(const JellyfinHlsJob& job);

}  // namespace guardian::testing
