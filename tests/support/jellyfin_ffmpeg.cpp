#include "support/jellyfin_ffmpeg.h"

namespace guardian::testing {
namespace {

// What every HLS job starts with: probing, the input and dropping its metadata.
std::vector<std::string> input_args(const JellyfinHlsJob& job) {
  std::vector<std::string> args = {job.ffmpeg, "-analyzeduration", "200M", "-probesize", "1G"};
  if (job.realtime) args.emplace_back("-re");
  args.insert(args.end(), {"-f", "matroska", "-i", "file:" + job.input, "-map_metadata", "-1"});
  return args;
}

// The HLS muxer's options, the same for a transcode and a remux.
void append_hls_output(const JellyfinHlsJob& job, std::vector<std::string>& args) {
  args.insert(args.end(),
              {"-f", "hls", "-max_delay", "5000000", "-hls_time", "3", "-hls_segment_type", "mpegts",
               "-start_number", "0", "-hls_segment_filename", job.output_prefix + "%d.ts",
               "-hls_playlist_type", "vod", "-hls_list_size", "0", "-y", job.output_prefix + ".m3u8"});
}

}  // namespace

std::vector<std::string> jellyfin_software_hls_cmdline(const JellyfinHlsJob& job) {
  std::vector<std::string> args = input_args(job);
  args.insert(
      args.end(),
      {"-map_chapters",
       "-1",
       "-threads",
       "0",
       "-map",
       "0:0",
       "-map",
       "0:1",
       "-map",
       "-0:s",
       "-codec:v:0",
       "libx264",
       "-preset",
       "veryfast",
       "-crf",
       "23",
       "-maxrate",
       "8000000",
       "-bufsize",
       "16000000",
       "-profile:v:0",
       "high",
       "-level",
       "41",
       "-x264opts:0",
       "subme=0:me_range=16:rc_lookahead=10:me=hex:open_gop=0",
       "-force_key_frames:0",
       "expr:gte(t,n_forced*3)",
       "-sc_threshold:v:0",
       "0",
       "-vf",
       "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709,scale=trunc(min(max(iw\\,ih*a)"
       "\\,1920)/2)*2:trunc(ow/a/2)*2,format=yuv420p",
       "-codec:a:0",
       "aac",
       "-ac",
       "2",
       "-ab",
       "256000",
       "-copyts",
       "-avoid_negative_ts",
       "disabled",
       "-max_muxing_queue_size",
       "2048"});
  append_hls_output(job, args);
  return args;
}

std::vector<std::string> jellyfin_remux_hls_cmdline(const JellyfinHlsJob& job) {
  std::vector<std::string> args = input_args(job);
  args.insert(args.end(), {"-map", "0:0", "-map", "0:1", "-codec:v:0", "copy", "-codec:a:0", "aac"});
  append_hls_output(job, args);
  return args;
}

}  // namespace guardian::testing
