#!/usr/bin/env python3
"""What guardian sees without the helper, for the helper bench: every INTERVAL seconds (guardian's
sampling tick, 1 s by default) it scans the user's cgroups the way guardian's sense stage does
(cgroup.procs of every cgroup under the user manager, /proc/PID/comm for ffmpeg; the oom_kill
counter of memory.events of app.slice) and logs the first time it sees each thing:
    RECV_NS ffmpeg pid=PID cgroup=PATH
    RECV_NS oom_kill count=N cgroup=PATH
Usage: helper-poller.py --out FILE --root CGROUP_DIR [--interval 1.0] [--duration S]
"""
import argparse
import os
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--duration", type=float, default=3600)
    a = ap.parse_args()
    out = open(a.out, "a", buffering=1)
    seen = set()
    last_oom = {}
    end = time.monotonic() + a.duration
    tick = time.monotonic()
    while time.monotonic() < end:
        for dirpath, dirnames, filenames in os.walk(a.root):
            if "cgroup.procs" in filenames:
                try:
                    pids = open(os.path.join(dirpath, "cgroup.procs")).read().split()
                except OSError:
                    pids = []
                for pid in pids:
                    if pid in seen:
                        continue
                    try:
                        comm = open(f"/proc/{pid}/comm").read().strip()
                    except OSError:
                        continue
                    if comm in ("ffmpeg", "ffprobe"):
                        seen.add(pid)
                        out.write(f"{time.clock_gettime_ns(time.CLOCK_MONOTONIC)} ffmpeg pid={pid} cgroup={dirpath}\n")
            if os.path.basename(dirpath) == "app.slice" and "memory.events" in filenames:
                try:
                    for line in open(os.path.join(dirpath, "memory.events")):
                        k, v = line.split()
                        if k == "oom_kill":
                            n = int(v)
                            if dirpath in last_oom and n > last_oom[dirpath]:
                                out.write(f"{time.clock_gettime_ns(time.CLOCK_MONOTONIC)} oom_kill count={n} cgroup={dirpath}\n")
                            last_oom[dirpath] = n
                except OSError:
                    pass
        tick += a.interval
        time.sleep(max(0.0, tick - time.monotonic()))


if __name__ == "__main__":
    main()
