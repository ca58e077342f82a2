"""The library's media: one generated H.264 Matroska file (lavfi testsrc2, encoded once), reached
under the paths the fixture sessions play, and what Jellyfin's probe would know of it."""
import json
import os
import subprocess


def make_source(path, width, height, fps, seconds, audio=False, ffmpeg="ffmpeg"):
    """Encodes the test pattern once (a file, as a library item is; ~25 s for 6 min of 1080p24 on
    one core). Written to a temporary name and renamed, so a half-written file is never used."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".part.mkv"
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "lavfi", "-i",
           f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    cmd += ["-map", "0:0"] + (["-map", "1:0", "-c:a", "ac3", "-b:a", "384k", "-ac", "6"] if audio else [])
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", "-g", str(fps * 2), "-pix_fmt", "yuv420p",
            "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709", "-y", tmp]
    subprocess.run(cmd, check=True)
    os.replace(tmp, path)


def probe(path, ffprobe="ffprobe"):
    """Width, height, frame rate, duration, codec and audio presence (Jellyfin's MediaStreams)."""
    out = subprocess.run([ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", path],
                         check=True, capture_output=True, text=True).stdout
    doc = json.loads(out)
    video = next(s for s in doc["streams"] if s["codec_type"] == "video")
    num, den = (int(x) for x in video.get("r_frame_rate", "24/1").split("/"))
    return {
        "width": int(video["width"]),
        "height": int(video["height"]),
        "fps": num / den if den else 24.0,
        "codec": video["codec_name"],
        "duration": float(doc["format"].get("duration", 0.0)),
        "has_audio": any(s["codec_type"] == "audio" for s in doc["streams"]),
        "bitrate": int(doc["format"].get("bit_rate", 0) or 0),
    }


def ensure(path, spec, ffmpeg="ffmpeg"):
    """The source file at `path`, generated from spec "WxH@FPS:SECONDS[:audio]" when missing."""
    if not os.path.exists(path):
        size, _, rest = spec.partition("@")
        width, height = (int(x) for x in size.split("x"))
        fps, _, tail = rest.partition(":")
        seconds, _, audio = tail.partition(":")
        make_source(path, width, height, int(fps), int(seconds), audio == "audio", ffmpeg)
    return path


def link_library(root, source, item_paths):
    """Each library item is a symlink to the one source under `root`, at the path Jellyfin
    reports for it (NowPlayingItem.Path, minus the fixture's /media prefix); returns the real
    paths, which are what the ffmpeg command line names after -i file:."""
    paths = {}
    for item_id, fixture_path in item_paths.items():
        rel = fixture_path.lstrip("/")
        if rel.startswith("media/"):
            rel = rel[len("media/"):]
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.islink(path) or os.path.exists(path):
            os.remove(path)
        os.symlink(os.path.abspath(source), path)
        paths[item_id] = path
    return paths


if __name__ == "__main__":
    # python3 -m jellyfin_standin.media OUT.mkv WxH@FPS:SECONDS[:audio]  (the VM's source, made on the host)
    import sys
    ensure(sys.argv[1], sys.argv[2])
