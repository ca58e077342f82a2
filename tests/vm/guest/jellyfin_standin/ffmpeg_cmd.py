"""The ffmpeg command lines Jellyfin 10.10/10.11 runs, built from the EncodingOptions in force when
a job starts. Pure functions: no I/O.

Where each part comes from (jellyfin/jellyfin v10.11.x):
- Jellyfin.Api/Controllers/DynamicHlsController.cs GetCommandLineArguments: the HLS job's layout
  "{inputModifier} {input} -map_metadata -1 -map_chapters -1 -threads {n} {maps} {video} {audio}
  -copyts -avoid_negative_ts disabled -max_muxing_queue_size {q} -f hls -max_delay 5000000
  -hls_time {seg} -hls_segment_type mpegts -start_number {first} -hls_segment_filename … -y …";
  the queue is MaxMuxingQueueSize, at least 128; VOD jobs default to the veryfast preset.
- MediaBrowser.Controller/MediaEncoding/EncodingHelper.cs:
  GetNumberOfThreads (EncodingThreadCount <= 0 -> "-threads 0" = ffmpeg's automatic count, else
  min(count, processor count)); GetEncoderParam (-preset from EncoderPreset, auto -> veryfast;
  -crf from H264Crf, outside 0..51 -> 23); GetVideoBitrateParam (libx264: -maxrate B -bufsize 2B);
  GetVideoQualityParam (-profile:v:0 high -level 41, and for libx264 always
  "-x264opts:0 subme=0:me_range=16:rc_lookahead=10:me=hex:open_gop=0");
  GetHlsVideoKeyFrameArguments (-force_key_frames:0 expr:gte(t,n_forced*3) -sc_threshold:v:0 0);
  GetSwScaleFilter (max width and height); GetInputModifier (-analyzeduration/-probesize, -ss for
  a job that starts at a later segment, -f matroska when hardware acceleration is configured);
  GetVaapiDeviceArgs / the VA-API decoder args (-init_hw_device vaapi=va:NODE -filter_hw_device va
  -hwaccel vaapi -hwaccel_output_format vaapi -noautorotate), scale_vaapi, hwdownload for a
  software encoder after a hardware decoder; GetMapArgs (no audio -> -map -0:a).
- MediaBrowser.Controller/Streaming/StreamState.cs: a transcode's segment length is 3 s.
- MediaBrowser.MediaEncoding/Encoder/MediaEncoder.cs ExtractVideoImagesOnIntervalInternal: the
  trickplay job "-loglevel error -threads N -i … -an -sn -vf … -threads N -c:v mjpeg -qscale:v 4
  -fps_mode passthrough -f image2 DIR/%08d.jpg" (TrickplayOptions: interval 10 s, width 320,
  1 thread, qscale 4).
.NET splits Jellyfin's argument string, so file:"…" and quoted filters arrive without quotes in
/proc/PID/cmdline: these argv lists are what a real Jellyfin's ffmpeg shows.
"""
import dataclasses
import math

SEGMENT_SECONDS = 3  # StreamState.SegmentLength for a transcode
X264_OPTS = "subme=0:me_range=16:rc_lookahead=10:me=hex:open_gop=0"
PRESETS = ["placebo", "veryslow", "slower", "slow", "medium", "fast", "faster", "veryfast", "superfast",
           "ultrafast"]


def encoder_preset(options):
    preset = options.get("EncoderPreset")
    return "veryfast" if preset in (None, "auto") else preset  # DefaultVodEncoderPreset


def thread_count(options, cpu_count):
    threads = options.get("EncodingThreadCount", -1)
    return 0 if threads <= 0 else min(threads, cpu_count)


def h264_crf(options):
    crf = options.get("H264Crf", 23)
    return crf if 0 <= crf <= 51 else 23


def muxing_queue(options):
    queue = options.get("MaxMuxingQueueSize", 2048)
    return queue if queue > 128 else 128


def time_parameter(seconds):
    """MediaEncoder.GetTimeParameter: hh:mm:ss.fff."""
    ms = int(round(seconds * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def output_size(src_w, src_h, max_w, max_h):
    """What GetSwScaleFilter's expression yields for a square-pixel source (a = iw/ih)."""
    a = src_w / src_h
    w = math.trunc(min(max(src_w, src_h * a), min(max_w, max_h * a)) / 2) * 2
    h = math.trunc(min(max(src_w / a, src_h), min(max_w / a, max_h)) / 2) * 2
    return w, h


@dataclasses.dataclass
class HlsRequest:
    """What one playback asks of the server: the item and the client's limits."""
    ffmpeg: str
    input_path: str
    source_width: int
    source_height: int
    source_codec: str = "h264"
    has_audio: bool = False
    max_width: int = 1920
    max_height: int = 1080
    bitrate: int = 8_000_000            # state.OutputVideoBitrate (the client's limit)
    start_segment: int = 0
    output_prefix: str = "/tmp/transcode"  # segments PREFIX%d.ts, playlist PREFIX.m3u8
    runtime_seconds: float = 0.0


@dataclasses.dataclass
class HlsJob:
    argv: list
    encoder: str          # libx264 or h264_vaapi
    hardware_decode: bool
    preset: str           # "" for hardware encoders
    threads: int          # the -threads value (0 = automatic)
    crf: int              # -1 for hardware encoders
    maxrate: int
    muxing_queue: int
    width: int
    height: int


def hardware_paths(options, request):
    """(hardware decode, hardware encode) as Jellyfin decides for VA-API: decode when the type is
    vaapi and the source codec is in HardwareDecodingCodecs, encode when EnableHardwareEncoding."""
    vaapi = options.get("HardwareAccelerationType") == "vaapi"
    decode = vaapi and request.source_codec in (options.get("HardwareDecodingCodecs") or [])
    encode = vaapi and bool(options.get("EnableHardwareEncoding", True))
    return decode, encode


def hls_command(options, request, cpu_count):
    hw_decode, hw_encode = hardware_paths(options, request)
    threads = thread_count(options, cpu_count)
    width, height = output_size(request.source_width, request.source_height, request.max_width,
                                request.max_height)
    argv = [request.ffmpeg, "-analyzeduration", "200M", "-probesize", "1G"]
    start = request.start_segment * SEGMENT_SECONDS
    if start > 0:
        if request.runtime_seconds > 0:
            start = min(start, max(request.runtime_seconds - 5.0, 0.0))
        argv += ["-ss", time_parameter(start)]
    if options.get("HardwareAccelerationType", "none") != "none":
        argv += ["-f", "matroska"]
    device = options.get("VaapiDevice") or "/dev/dri/renderD128"
    if hw_decode or hw_encode:
        argv += ["-init_hw_device", f"vaapi=va:{device}", "-filter_hw_device", "va"]
    if hw_decode:
        argv += ["-hwaccel", "vaapi", "-hwaccel_output_format", "vaapi", "-noautorotate"]
    argv += ["-i", "file:" + request.input_path, "-map_metadata", "-1", "-map_chapters", "-1",
             "-threads", str(threads), "-map", "0:0"]
    argv += ["-map", "0:1"] if request.has_audio else ["-map", "-0:a"]
    argv += ["-map", "-0:s"]
    keyframes = ["-force_key_frames:0", f"expr:gte(t,n_forced*{SEGMENT_SECONDS})"]
    colour = "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709"
    if hw_encode:
        encoder, preset, crf = "h264_vaapi", "", -1
        argv += ["-codec:v:0", "h264_vaapi", "-rc_mode", "VBR", "-b:v", str(request.bitrate), "-maxrate",
                 str(request.bitrate), "-bufsize", str(request.bitrate * 2), "-profile:v:0", "high"]
        argv += keyframes
        scale = f"scale_vaapi=w={width}:h={height}:format=nv12"
        # Jellyfin names jellyfin-ffmpeg's hwupload_vaapi; a distribution's ffmpeg has the generic hwupload.
        argv += ["-vf", f"{colour},{scale}" if hw_decode else f"{colour},format=nv12,hwupload,{scale}"]
    else:
        encoder, preset, crf = "libx264", encoder_preset(options), h264_crf(options)
        argv += ["-codec:v:0", "libx264", "-preset", preset, "-crf", str(crf), "-maxrate", str(request.bitrate),
                 "-bufsize", str(request.bitrate * 2), "-profile:v:0", "high", "-level", "41",
                 "-x264opts:0", X264_OPTS]
        argv += keyframes + ["-sc_threshold:v:0", "0"]
        if hw_decode:
            vf = f"{colour},scale_vaapi=w={width}:h={height}:format=nv12,hwdownload,format=nv12"
        else:
            scale = (f"scale=trunc(min(max(iw\\,ih*a)\\,min({request.max_width}\\,{request.max_height}*a))/2)*2"
                     f":trunc(min(max(iw/a\\,ih)\\,min({request.max_width}/a\\,{request.max_height}))/2)*2")
            vf = f"{colour},{scale},format=yuv420p"
        argv += ["-vf", vf]
    if request.has_audio:
        argv += ["-codec:a:0", "aac", "-ac", "2", "-ab", "256000"]
    queue = muxing_queue(options)
    argv += ["-copyts", "-avoid_negative_ts", "disabled", "-max_muxing_queue_size", str(queue),
             "-f", "hls", "-max_delay", "5000000", "-hls_time", str(SEGMENT_SECONDS),
             "-hls_segment_type", "mpegts", "-start_number", str(request.start_segment),
             "-hls_segment_filename", request.output_prefix + "%d.ts", "-hls_playlist_type", "vod",
             "-hls_list_size", "0", "-y", request.output_prefix + ".m3u8"]
    return HlsJob(argv=argv, encoder=encoder, hardware_decode=hw_decode, preset=preset, threads=threads, crf=crf,
                  maxrate=request.bitrate, muxing_queue=queue, width=width, height=height)


def trickplay_command(ffmpeg, input_path, output_dir, width=320, interval_seconds=10, threads=1, qscale=4):
    """One item's trickplay thumbnails (software path; TrickplayOptions defaults)."""
    vf = (f"setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709,fps=1/{interval_seconds},"
          f"scale=trunc(min(max(iw\\,ih*a)\\,{width})/2)*2:trunc(ow/a/2)*2,format=yuvj420p")
    return [ffmpeg, "-loglevel", "error", "-threads", str(threads), "-i", "file:" + input_path, "-an", "-sn",
            "-vf", vf, "-threads", str(threads), "-c:v", "mjpeg", "-qscale:v", str(qscale), "-fps_mode",
            "passthrough", "-f", "image2", output_dir.rstrip("/") + "/%08d.jpg"]


def chapter_image_command(ffmpeg, input_path, output_file, seconds):
    """A chapter image (MediaEncoder.ExtractImageInternal: one frame at the chapter's start)."""
    return [ffmpeg, "-ss", time_parameter(seconds), "-i", "file:" + input_path, "-threads", "0", "-v", "quiet",
            "-vframes", "1", "-vf", "scale=trunc(iw*sar):ih,scale=600:trunc(600/dar/2)*2", "-f", "image2",
            output_file]


def resolution_for_bitrate(bitrate, fps, max_width):
    """ResolutionNormalizer.Normalize (MediaBrowser.Model/Dlna): the widest output a bitrate allows,
    references at 30 fps."""
    table = [(416, 365000), (640, 730000), (768, 1100000), (960, 3000000), (1280, 6000000), (1920, 13500000),
             (2560, 28000000), (3840, 50000000)]
    scale = 30.0 / fps if fps <= 30 else 1.0 / math.sqrt(fps / 30.0)
    reference = bitrate * scale
    for width, limit in table:
        if reference <= limit:
            return min(width, max_width)
    return max_width
