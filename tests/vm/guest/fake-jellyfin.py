#!/usr/bin/env python3
"""Jellyfin stand-in for the VM test bed (runs as jellyfin.service in container.slice).

- A managed heap that Jellyfin keeps in use (--heap-mb, touched every second).
- --streams concurrent software transcodes with REAL ffmpeg (libx264, the HLS command line
  Jellyfin builds) of a generated clip (lavfi testsrc2). When a transcode ends (clip done, or
  ffmpeg killed) it starts the next one with the then-current encoding options, as Jellyfin
  does: the options are re-read from $ENCODING_FILE (JSON: width, height, fps, preset, threads,
  crf, audio) at every start, so an outside actor can downgrade transcodes.
- Viewers come and go: $LOAD_FILE (JSON: streams, buffer_mb) is re-read every second; each
  stream needs transcode buffers of buffer_mb, held and used by the server (Jellyfin's heavy-transcoding spike).
- Logs one line per new HLS segment ("segment stream=I n=N file=…") so the harness can show
  the stand-in kept serving, and a "transcode start …" line per ffmpeg start.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--heap-mb", type=int, default=96)
ap.add_argument("--streams", type=int, default=2)
ap.add_argument("--clip-seconds", type=int, default=60)
ap.add_argument("--buffer-mb", type=int, default=16, help="transcode buffers per stream")
ap.add_argument("--load-file", default=os.path.expanduser("~/.config/fake-jellyfin/load.json"),
                help="JSON {streams, buffer_mb}: the viewers right now (re-read every second)")
ap.add_argument("--workdir", default=os.path.expanduser("~/.cache/fake-jellyfin/transcodes"))
ap.add_argument("--encoding-file",
                default=os.environ.get("ENCODING_FILE",
                                       os.path.expanduser("~/.config/fake-jellyfin/encoding.json")))
a = ap.parse_args()

# Sized for TCG: audio off by default — the AAC encoder is float code, and qemu's software
# floating point made it cost more than the video (no segment in 2 minutes with AAC at 640x360).
DEFAULTS = {"width": 320, "height": 180, "fps": 12, "preset": "veryfast", "threads": 1, "crf": 23,
            "audio": "none"}


def log(msg):
    print(msg, flush=True)


def options():
    opts = dict(DEFAULTS)
    try:
        with open(a.encoding_file) as f:
            opts.update(json.load(f))
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as e:
        log(f"bad encoding file {a.encoding_file}: {e}; using defaults")
    return opts


def start(i, gen):
    o = options()
    d = os.path.join(a.workdir, f"stream{i}")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    src = (f"testsrc2=size={o['width']}x{o['height']}:rate={o['fps']}:duration={a.clip_seconds}")
    audio_in, audio_out = [], ["-an"]
    if o["audio"] == "aac":
        audio_in = ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={a.clip_seconds}"]
        audio_out = ["-map", "1:0", "-codec:a:0", "aac", "-ac", "2", "-ab", "128000"]
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
           "-f", "lavfi", "-i", src] + audio_in + ["-map", "0:0"] + audio_out + [
           "-codec:v:0", "libx264", "-preset", str(o["preset"]), "-crf", str(o["crf"]),
           "-maxrate", "2000000", "-bufsize", "4000000", "-profile:v:0", "high",
           "-threads", str(o["threads"]), "-g", str(o["fps"] * 2), "-keyint_min", str(o["fps"] * 2),
           "-sc_threshold:v:0", "0",
           "-max_muxing_queue_size", "2048", "-f", "hls", "-max_delay", "5000000",
           "-hls_time", "2", "-hls_segment_type", "mpegts", "-start_number", "0",
           "-hls_segment_filename", os.path.join(d, "seg%d.ts"),
           "-hls_playlist_type", "vod", "-hls_list_size", "0", "-y", os.path.join(d, "main.m3u8")]
    log(f"transcode start stream={i} gen={gen} {o['width']}x{o['height']}@{o['fps']} "
        f"preset={o['preset']} threads={o['threads']}")
    return subprocess.Popen(cmd), d


def load():
    """Active viewers and per-transcode buffer size, re-read every second from $LOAD_FILE."""
    d = {"streams": a.streams, "buffer_mb": a.buffer_mb}
    try:
        with open(a.load_file) as f:
            d.update(json.load(f))
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as e:
        log(f"bad load file {a.load_file}: {e}")
    return int(d["streams"]), int(d["buffer_mb"])


def touch(buf, tick):
    if buf:
        buf[tick % 4096::4096] = b"\x02" * len(range(tick % 4096, len(buf), 4096))


def new_buffer(mb):
    b = bytearray(mb << 20)
    b[::4096] = b"\x01" * len(range(0, len(b), 4096))
    return b


heap = new_buffer(a.heap_mb)
log(f"fake-jellyfin: heap {a.heap_mb} MiB, {a.streams} streams, clip {a.clip_seconds}s, pid {os.getpid()}")

streams, total, tick = {}, 0, 0   # i -> dict(proc, dir, seen, gen)
cache, cache_mb = None, 0          # transcode buffers: buffer_mb per active stream
while True:
    want, buffer_mb = load()
    if want * buffer_mb != cache_mb:
        cache, cache_mb = None, want * buffer_mb
        cache = new_buffer(cache_mb)
        log(f"transcode buffers: {cache_mb} MiB for {want} streams")
    for i in range(want):
        if i not in streams:
            p, d = start(i, 1)
            streams[i] = {"proc": p, "dir": d, "seen": set(), "gen": 1}
            log(f"viewer {i} joined: {want} streams")
    for i in [i for i in streams if i >= want]:
        streams[i]["proc"].kill()
        streams[i]["proc"].wait()
        del streams[i]
        log(f"viewer {i} left: {want} streams")
    time.sleep(1)
    tick += 1
    touch(heap, tick)
    touch(cache, tick)
    for i, st in streams.items():
        try:
            segs = [f for f in os.listdir(st["dir"]) if f.endswith(".ts")]
        except OSError:
            segs = []
        for f in sorted(set(segs) - st["seen"], key=lambda s: int(s[3:-3])):
            st["seen"].add(f)
            total += 1
            try:
                mtime = os.stat(os.path.join(st["dir"], f)).st_mtime
            except OSError:
                mtime = time.time()
            log(f"segment stream={i} n={total} file={f} mtime={mtime:.3f}")
        rc = st["proc"].poll()
        if rc is not None:
            log(f"transcode end stream={i} gen={st['gen']} rc={rc} segments={len(st['seen'])}")
            st["gen"] += 1
            st["seen"] = set()
            st["proc"], st["dir"] = start(i, st["gen"])
