#!/usr/bin/env python3
"""Per-process memory of the Jellyfin stand-in while a squeeze runs (issue 12, JELLYFIN=api): every
INTERVAL seconds one JSON line {"t_real", "procs": [{"pid", "kind" (transcode|trickplay|image|
other), "preset", "threads", "rss_anon_kib", "rss_file_kib"}]} for each process of the cgroup (and its children). RssAnon/RssFile from
/proc/PID/status: cheap enough for a starved TCG guest (smaps_rollup's Pss walks every mapping).
A transcode's stream and output size are in the stand-in's "transcode start … pid=N … WxH" line.
Runs as root, memory locked, until SIGTERM. Usage: jobs-trace.py CGROUP_DIR OUT.jsonl [INTERVAL]"""
import ctypes
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jobstat import cmdline, kind, pids, value  # noqa: E402

running = True


def stop(*_):
    global running
    running = False


def status_kib(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("RssAnon:", "RssFile:")):
                    out[line.split(":")[0]] = int(line.split()[1])
    except OSError:
        return None
    return out


def main():
    cgroup, out_path = sys.argv[1], sys.argv[2]
    interval = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:  # our pages must not be reclaimed while we measure reclaim
        ctypes.CDLL(None, use_errno=True).mlockall(1 | 2)
    except Exception:
        pass
    with open(out_path, "a") as out:
        while running:
            procs = []
            for pid in pids(cgroup):
                argv = cmdline(pid)
                st = status_kib(pid)
                if not argv or st is None:
                    continue
                k = kind(argv) if "ffmpeg" in os.path.basename(argv[0]) else "other"
                procs.append({"pid": pid, "kind": k, "preset": value(argv, "-preset"), "threads": value(argv, "-threads"),
                              "rss_anon_kib": st.get("RssAnon"), "rss_file_kib": st.get("RssFile")})
            out.write(json.dumps({"t_real": time.time(), "procs": procs}) + "\n")
            out.flush()
            time.sleep(interval)


if __name__ == "__main__":
    main()
