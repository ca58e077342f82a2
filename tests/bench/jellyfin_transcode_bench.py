#!/usr/bin/env python3
"""What each of guardian's Jellyfin actions buys, measured with real ffmpeg.

Runs Jellyfin 10.11's 1080p -> 720p libx264 HLS job (the command line the VM's Jellyfin stand-in
builds from EncodingOptions: tests/vm/guest/jellyfin_standin/ffmpeg_cmd.py) on a generated source
(lavfi testsrc2 1920x1080@24, encoded once), one configuration at a time, and samples the job:
- memory: Pss from /proc/PID/smaps_rollup every 0.25 s; "steady" is the median after the first
  `--settle` seconds, "peak" the largest sample;
- CPU: utime+stime per encoded frame, given as core-seconds per second of video (24 frames);
  above 1.0 the job cannot keep up with playback on one core;
- output: bytes of HLS segments per minute of video (what a transcode directory holds, on tmpfs or
  as page cache in the container's cgroup, until segment deletion removes it).
Then two dynamic measurements:
- throttled: the job paused as Jellyfin's throttler pauses an ffmpeg <= 6.1 ("c" on stdin) —
  its CPU and memory while paused;
- respawn: the stand-in itself (tests/vm/guest/fake-jellyfin.py) with one viewer on the quality
  settings; once steady, the cheaper-software settings are POSTed and the job gets SIGTERM (what
  respawn-software-transcodes sends): time until the old job is gone, until the next segment
  request starts the new one, and until the new one's Pss is below the old one's steady Pss.

Figures on a shared machine are noisy: compare ratios within one run; repeat a row with --only.
Usage: tests/bench/jellyfin_transcode_bench.py [--seconds 40] [--repeat N] [--only NAME,...] [--json OUT]
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "vm", "guest"))

from jellyfin_standin import encoding, ffmpeg_cmd, media  # noqa: E402
from jellyfin_standin.jobs import FfmpegJob, cpu_seconds, pss_kib  # noqa: E402

FIXTURES = os.path.join(REPO, "tests", "support", "fake_jellyfin", "fixtures")
QUALITY = {"EncoderPreset": "slow", "EncodingThreadCount": -1, "H264Crf": 23, "MaxMuxingQueueSize": 2048,
           "HardwareAccelerationType": "none"}
CHEAPER = {"EncoderPreset": "veryfast", "EncodingThreadCount": 2, "H264Crf": 28, "MaxMuxingQueueSize": 1024,
           "EnableThrottling": True, "EnableSegmentDeletion": True, "SegmentKeepSeconds": 120}

DECODER_THREADS = "decoder threads"  # not an EncodingOptions field: the machine's automatic count
# name, what changes from QUALITY, the -threads value forced (None = Jellyfin's rule), what it shows
CONFIGS = [
    ("quality", {}, None, "a quality-minded admin: slow, automatic threads, CRF 23, queue 2048"),
    ("preset medium", {"EncoderPreset": "medium"}, None, "preset"),
    ("preset veryfast", {"EncoderPreset": "veryfast"}, None, "preset"),
    ("preset ultrafast", {"EncoderPreset": "ultrafast"}, None, "preset"),
    ("threads 24 (auto on 16 CPUs)", {}, 24, "threads: x264's automatic count is 1.5 x CPUs"),
    ("threads 12 (auto on 8 CPUs)", {}, 12, "threads"),
    ("threads 4", {"EncodingThreadCount": 4}, 4, "threads"),
    ("threads 2", {"EncodingThreadCount": 2}, None, "threads"),
    ("threads 1", {"EncodingThreadCount": 1}, None, "threads"),
    ("crf 28", {"H264Crf": 28}, None, "CRF"),
    ("crf 30", {"H264Crf": 30}, None, "CRF"),
    ("queue 1024", {"MaxMuxingQueueSize": 1024}, None, "muxing queue"),
    ("queue 128", {"MaxMuxingQueueSize": 128}, None, "muxing queue (Jellyfin's floor)"),
    ("cheaper-software default", {k: CHEAPER[k] for k in ("EncoderPreset", "EncodingThreadCount", "H264Crf",
                                                           "MaxMuxingQueueSize")}, None,
     "veryfast, 2 threads, CRF 28, queue 1024"),
    ("veryfast 1 thread crf 28", {"EncoderPreset": "veryfast", "EncodingThreadCount": 1, "H264Crf": 28,
                                  "MaxMuxingQueueSize": 1024}, None, "a critical-level candidate"),
    ("critical: ultrafast 1 thread crf 30", {"EncoderPreset": "ultrafast", "EncodingThreadCount": 1,
                                             "H264Crf": 30, "MaxMuxingQueueSize": 1024}, None, "a harsher level"),
    # Bigger machines: Jellyfin gives the decoder no -threads, so ffmpeg decodes with its automatic
    # count too (CPUs + 1, at most 16); these rows pass both counts those machines would get.
    ("8 CPUs: quality", {DECODER_THREADS: 9}, 12, "decoder 9 threads, x264 12"),
    ("8 CPUs: cheaper-software default", {DECODER_THREADS: 9, "EncoderPreset": "veryfast", "EncodingThreadCount": 2,
                                          "H264Crf": 28, "MaxMuxingQueueSize": 1024}, None, "decoder 9 threads"),
    ("16 CPUs: quality", {DECODER_THREADS: 16}, 24, "decoder 16 threads, x264 24"),
    ("16 CPUs: cheaper-software default", {DECODER_THREADS: 16, "EncoderPreset": "veryfast",
                                           "EncodingThreadCount": 2, "H264Crf": 28, "MaxMuxingQueueSize": 1024},
     None, "decoder 16 threads"),
    ("16 CPUs: veryfast 1 thread crf 28", {DECODER_THREADS: 16, "EncoderPreset": "veryfast",
                                           "EncodingThreadCount": 1, "H264Crf": 28, "MaxMuxingQueueSize": 1024},
     None, "decoder 16 threads"),
]


def options_with(changes):
    with open(os.path.join(FIXTURES, "encoding-10.11.json")) as f:
        options = encoding.normalised(json.load(f))
    options.update(QUALITY)
    options.update(changes)
    return options


def run_job(source, info, options, threads_override, seconds, settle, workdir, name, pause_after=None):
    out = tempfile.mkdtemp(prefix="hls-", dir=workdir)
    request = ffmpeg_cmd.HlsRequest(ffmpeg="ffmpeg", input_path=source, source_width=info["width"],
                                    source_height=info["height"], max_width=1280, max_height=720,
                                    bitrate=4_000_000, output_prefix=os.path.join(out, "main"),
                                    runtime_seconds=info["duration"])
    # Jellyfin caps EncodingThreadCount at the processor count; to measure what a bigger machine's
    # count costs, the -threads value is set directly (memory does not depend on idle cores).
    decoder_threads = options.pop(DECODER_THREADS, None)
    hls = ffmpeg_cmd.hls_command(options, request, cpu_count=os.cpu_count() or 1)
    argv = list(hls.argv)
    if threads_override is not None:
        argv[argv.index("-threads") + 1] = str(threads_override)
    if decoder_threads is not None:
        i = argv.index("-i")
        argv[i:i] = ["-threads", str(decoder_threads)]
    job = FfmpegJob(argv, os.path.join(out, "ffmpeg.log"), name)
    samples, start = [], time.monotonic()
    paused_at = paused_cpu = None
    while time.monotonic() - start < seconds and job.running:
        pss = pss_kib(job.pid)
        if pss:
            samples.append((time.monotonic() - start, pss))
        if pause_after is not None and paused_at is None and time.monotonic() - start >= pause_after:
            job.pause(b"c")
            paused_at = time.monotonic()
            time.sleep(1.0)
            paused_cpu = (time.monotonic(), cpu_seconds(job.pid), job.frames)
        time.sleep(0.25)
    cpu = cpu_seconds(job.pid)
    frames = job.frames
    wall = time.monotonic() - start
    result = {"name": name, "argv": argv, "frames": frames, "wall": wall}
    if paused_cpu is not None:
        t1, c1, f1 = paused_cpu
        result["paused_cpu_per_s"] = (cpu - c1) / (time.monotonic() - t1)
        result["paused_frames_gained"] = frames - f1
    job.stop()
    segments = [f for f in os.listdir(out) if f.endswith(".ts")]
    seg_bytes = sum(os.path.getsize(os.path.join(out, f)) for f in segments)
    video_seconds = frames / info["fps"] if frames else 0
    steady = [p for t, p in samples if t >= settle] or [p for _, p in samples]
    result.update({
        "pss_peak_mib": max(p for _, p in samples) / 1024 if samples else None,
        "pss_steady_mib": statistics.median(steady) / 1024 if steady else None,
        "cpu_per_video_second": (cpu / video_seconds) if video_seconds and cpu else None,
        "fps": frames / wall if wall else None,
        "segment_mib_per_minute": seg_bytes / video_seconds * 60 / 2**20 if video_seconds else None,
        "video_seconds": video_seconds,
    })
    subprocess.run(["rm", "-rf", out])
    return result


def api(base, key, method, path, body=None):
    headers = {"X-Emby-Token": key}
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    with urllib.request.urlopen(urllib.request.Request(base + path, data=data, method=method, headers=headers),
                                timeout=30) as r:
        raw = r.read()
        return json.loads(raw) if raw else None


def cap_bitrate(source, workdir, settle, after):
    """The stand-in with one viewer (alice, 1080p at 8 Mbit/s) whose client obeys
    SetMaxStreamingBitrate; once steady, 3 Mbit/s is sent as jellyfin.cap-bitrate sends it."""
    tmp = tempfile.mkdtemp(prefix="standin-", dir=workdir)
    os.makedirs(os.path.join(tmp, "config"))
    with open(os.path.join(tmp, "config", "load.json"), "w") as f:
        json.dump({"streams": 1, "buffer_mb": 0, "obeys_bitrate": ["Jellyfin Web"]}, f)
    port_file = os.path.join(tmp, "port")
    log = open(os.path.join(tmp, "standin.log"), "w")
    proc = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "tests", "vm", "guest", "fake-jellyfin.py"), "--fixtures", FIXTURES,
         "--port", "0", "--port-file", port_file, "--config-dir", os.path.join(tmp, "config"), "--workdir", tmp,
         "--media", source, "--initial-encoding", json.dumps(QUALITY)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while not os.path.exists(port_file):
            time.sleep(0.2)
        base = "http://127.0.0.1:" + open(port_file).read().strip()
        key = open(os.path.join(tmp, "config", "api-key")).read().strip()

        def jobs():
            with urllib.request.urlopen(base + "/__standin/state", timeout=30) as r:
                return [j for j in json.loads(r.read())["jobs"] if j["kind"] == "transcode" and j["running"]]

        while not jobs():
            time.sleep(0.2)
        old = jobs()[0]
        t0, trace = time.monotonic(), []
        while time.monotonic() - t0 < settle:
            trace.append((time.monotonic() - t0, pss_kib(old["pid"]) or 0))
            time.sleep(0.25)
        session = next(s for s in api(base, key, "GET", "/Sessions") if s.get("TranscodingInfo"))
        api(base, key, "POST", f"/Sessions/{session['Id']}/Command",
            {"Name": "SetMaxStreamingBitrate", "Arguments": {"Bitrate": "3000000"}})
        ts, new = time.monotonic(), None
        samples = []
        while time.monotonic() - ts < after:
            if new is None:
                new = next((j for j in jobs() if j["pid"] != old["pid"]), None)
                started = time.monotonic() - ts
            elif time.monotonic() - ts > started + 5:
                samples.append(pss_kib(new["pid"]) or 0)
            time.sleep(0.25)
        info = next(s for s in api(base, key, "GET", "/Sessions") if s["Id"] == session["Id"])["TranscodingInfo"]
        return {"old_mib": statistics.median([p for t, p in trace if t >= settle / 2]) / 1024,
                "old_size": f"{session['TranscodingInfo']['Width']}x{session['TranscodingInfo']['Height']}",
                "new_mib": statistics.median(samples) / 1024 if samples else None,
                "new_size": f"{info['Width']}x{info['Height']}", "new_maxrate": new["maxrate"] if new else None,
                "new_job_started_s": started if new else None}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def respawn(source, workdir, settle, after):
    """The stand-in with two viewers on QUALITY (alice: 1080p at 8 Mbit/s, kids: 720p at 4 Mbit/s);
    once steady, CHEAPER is POSTed and both jobs get SIGTERM."""
    tmp = tempfile.mkdtemp(prefix="standin-", dir=workdir)
    port_file = os.path.join(tmp, "port")
    log = open(os.path.join(tmp, "standin.log"), "w")
    proc = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "tests", "vm", "guest", "fake-jellyfin.py"), "--fixtures", FIXTURES,
         "--port", "0", "--port-file", port_file, "--config-dir", os.path.join(tmp, "config"), "--workdir", tmp,
         "--media", source, "--streams", "2", "--initial-encoding", json.dumps(QUALITY)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while not os.path.exists(port_file):
            time.sleep(0.2)
        base = "http://127.0.0.1:" + open(port_file).read().strip()
        key = open(os.path.join(tmp, "config", "api-key")).read().strip()

        def state():
            with urllib.request.urlopen(base + "/__standin/state", timeout=30) as r:
                return json.loads(r.read())

        def running():
            return {j["viewer"]: j for j in state()["jobs"] if j["kind"] == "transcode" and j["running"]}

        while len(running()) < 2:
            time.sleep(0.2)
        old = running()
        t0 = time.monotonic()
        trace = {v: [] for v in old}
        while time.monotonic() - t0 < settle:
            for v, j in old.items():
                trace[v].append((time.monotonic() - t0, pss_kib(j["pid"]) or 0))
            time.sleep(0.25)
        old_steady = {v: statistics.median([p for t, p in trace[v] if t >= settle / 2]) / 1024 for v in old}
        options = api(base, key, "GET", "/System/Configuration/encoding")
        options.update(CHEAPER)
        api(base, key, "POST", "/System/Configuration/encoding", options)
        ts = time.monotonic()
        for j in old.values():
            os.kill(j["pid"], signal.SIGTERM)
        gone, new, new_start, first_segment, marks = {}, {}, {}, {}, {}
        series = []
        while time.monotonic() - ts < after:
            now = time.monotonic() - ts
            for v, j in old.items():
                if v not in gone and not os.path.exists(f"/proc/{j['pid']}"):
                    gone[v] = now
            if len(new) < len(old):
                for v, j in running().items():
                    if j["pid"] != old[v]["pid"] and v not in new:
                        new[v], new_start[v] = j, now
            for v in state()["viewers"]:
                # the client got a segment of the new job: its download position moved after the
                # new job started (the old job's last, partial segment is written before it ends)
                i = v["viewer"]
                if i not in first_segment and i in new and v["download_position"] > marks.get(i, 1e18):
                    first_segment[i] = now
                if i in new and i not in marks:
                    marks[i] = v["download_position"]
            series.append((now, {v: (pss_kib(new[v]["pid"]) or 0) / 1024 if v in new else 0 for v in old}))
            time.sleep(0.25)
        new_steady = {v: statistics.median([p[v] for t, p in series if v in new_start and t > new_start[v] + 5]
                                           or [0]) for v in old}
        return {"viewers": {v: {"request": f"{old[v]['maxrate'] // 1_000_000} Mbit/s",
                                "old_preset": old[v]["preset"], "old_threads": old[v]["threads"],
                                "old_steady_mib": old_steady[v], "old_gone_s": gone.get(v),
                                "new_job_started_s": new_start.get(v), "first_new_segment_s": first_segment.get(v),
                                "new_preset": new[v]["preset"] if v in new else None,
                                "new_steady_mib": new_steady[v]} for v in old},
                "series": series}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def floor(source, seconds):
    """What no encoder setting removes: ffmpeg decoding the 1080p source (libraries + decoder)."""
    job = FfmpegJob(["ffmpeg", "-i", "file:" + source, "-map", "0:0", "-f", "null", "-"],
                    os.path.join(tempfile.mkdtemp(), "floor.log"), "floor")
    samples, start = [], time.monotonic()
    while time.monotonic() - start < seconds and job.running:
        p = pss_kib(job.pid)
        if p:
            samples.append(p)
        time.sleep(0.25)
    job.stop()
    return statistics.median(samples[len(samples) // 2:]) / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=40.0, help="wall time per configuration")
    ap.add_argument("--settle", type=float, default=10.0, help="seconds before memory counts as steady")
    ap.add_argument("--only", help="comma-separated configuration names (and/or 'throttled', 'respawn')")
    ap.add_argument("--cache", default=os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
                                                    "guardian-bench"))
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per configuration, interleaved; the table shows medians and the CPU spread")
    ap.add_argument("--json", help="write every figure here")
    args = ap.parse_args()
    os.makedirs(args.cache, exist_ok=True)
    source = media.ensure(os.path.join(args.cache, "source-1920x1080_24_360.mkv"), "1920x1080@24:360")
    info = media.probe(source)
    only = set(args.only.split(",")) if args.only else None
    results = []
    chosen = [c for c in CONFIGS if not only or c[0] in only]
    runs = {c[0]: [] for c in chosen}
    for _ in range(args.repeat):  # interleaved, so a busy minute on the machine hits every row alike
        for name, changes, threads, what in chosen:
            r = run_job(source, info, options_with(changes), threads, args.seconds, args.settle, args.cache, name)
            runs[name].append(r)
            print(f"{name}: Pss steady {r['pss_steady_mib']:.0f} MiB, peak {r['pss_peak_mib']:.0f} MiB, "
                  f"{r['cpu_per_video_second']:.2f} core-s per video-s, {r['fps']:.1f} fps, "
                  f"{r['segment_mib_per_minute']:.1f} MiB of segments per minute", flush=True)
    for name, changes, threads, what in chosen:
        rs = runs[name]
        cpu = [r["cpu_per_video_second"] for r in rs]
        results.append({"name": name, "what": what, "runs": rs, "argv": rs[0]["argv"],
                        "pss_steady_mib": statistics.median(r["pss_steady_mib"] for r in rs),
                        "pss_peak_mib": max(r["pss_peak_mib"] for r in rs),
                        "cpu_per_video_second": statistics.median(cpu), "cpu_min": min(cpu), "cpu_max": max(cpu),
                        "segment_mib_per_minute": statistics.median(r["segment_mib_per_minute"] for r in rs)})
    extra = {}
    if not only or "throttled" in only:
        r = run_job(source, info, options_with({}), None, args.seconds, args.settle, args.cache, "throttled",
                    pause_after=args.settle)
        extra["throttled"] = r
        print(f"throttled ('c' on stdin after {args.settle:.0f} s): {r['paused_cpu_per_s']:.2f} core-s per second "
              f"while paused, {r['paused_frames_gained']} frames encoded while paused, Pss {r['pss_steady_mib']:.0f}"
              f" MiB", flush=True)
    if not only or "floor" in only:
        extra["floor_mib"] = floor(source, min(args.seconds, 20.0))
        print(f"floor (ffmpeg decoding the source, no encoder): Pss {extra['floor_mib']:.0f} MiB", flush=True)
    if not only or "respawn" in only:
        r = respawn(source, args.cache, settle=max(20.0, args.settle * 2), after=40.0)
        extra["respawn"] = r
        for v, x in sorted(r["viewers"].items()):
            print(f"respawn viewer {v} ({x['request']}): {x['old_preset']}/{x['old_threads']} threads "
                  f"{x['old_steady_mib']:.0f} MiB; SIGTERM -> gone {x['old_gone_s']:.1f} s, new job "
                  f"({x['new_preset']}) at {x['new_job_started_s']:.1f} s, its first segment at "
                  f"{x['first_new_segment_s'] if x['first_new_segment_s'] is None else round(x['first_new_segment_s'], 1)}"
                  f" s, steady {x['new_steady_mib']:.0f} MiB", flush=True)
    if results:
        base = next((r for r in results if r["name"] == "quality"), results[0])
        print(f"\n{args.repeat} run(s) per row, medians; CPU range over the runs in brackets")
        print("| configuration | Pss steady (MiB) | vs quality | core-s per video-s | vs quality "
              "| segments (MiB/min) |")
        print("|---|---|---|---|---|---|")
        for r in results:
            print(f"| {r['name']} | {r['pss_steady_mib']:.0f} | {r['pss_steady_mib'] / base['pss_steady_mib']:.2f}x | "
                  f"{r['cpu_per_video_second']:.2f} ({r['cpu_min']:.2f}–{r['cpu_max']:.2f}) | "
                  f"{r['cpu_per_video_second'] / base['cpu_per_video_second']:.2f}x | "
                  f"{r['segment_mib_per_minute']:.1f} |")
    if not only or "cap-bitrate" in only:
        r = cap_bitrate(source, args.cache, settle=max(20.0, args.settle * 2), after=30.0)
        extra["cap_bitrate"] = r
        print(f"cap-bitrate 3 Mbit/s to an obeying client: {r['old_size']} job {r['old_mib']:.0f} MiB -> reloaded "
              f"at {r['new_job_started_s']:.1f} s as {r['new_size']} maxrate {r['new_maxrate']}, {r['new_mib']:.0f} MiB",
              flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"source": info, "machine": {"cpus": os.cpu_count(), "load": os.getloadavg()},
                       "results": results, **extra}, f, indent=1)


if __name__ == "__main__":
    main()
