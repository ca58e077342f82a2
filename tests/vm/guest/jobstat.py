#!/usr/bin/env python3
"""Samples the ffmpeg processes of a cgroup (and its children) for a while: their Pss
(/proc/PID/smaps_rollup), CPU (utime+stime) and command lines. Prints one JSON object:
{"seconds", "samples", "pss_mib": {"median", "max"} (sum over the ffmpegs per sample),
 "cpu_cores" (CPU seconds per wall second over the window), "jobs": [{"pid", "preset", "threads",
 "kind"}]}.
Usage: jobstat.py CGROUP_DIR SECONDS [--kind transcode|trickplay|all]"""
import json
import os
import statistics
import sys
import time


def pids(cgroup):
    out = []
    for root, _dirs, files in os.walk(cgroup):
        if "cgroup.procs" in files:
            try:
                with open(os.path.join(root, "cgroup.procs")) as f:
                    out += [int(x) for x in f.read().split()]
            except OSError:
                pass
    return out


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().rstrip(b"\0").decode(errors="replace").split("\0")
    except OSError:
        return []


def kind(argv):
    if "hls" in argv:
        return "transcode"
    if "image2" in argv:
        return "trickplay" if any("%08d" in a for a in argv) else "image"
    return "other"


def value(argv, flag):
    return argv[argv.index(flag) + 1] if flag in argv and argv.index(flag) + 1 < len(argv) else None


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def main():
    cgroup, seconds = sys.argv[1], float(sys.argv[2])
    want = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--kind" else "transcode"
    start = time.monotonic()
    totals, jobs, cpu_first, cpu_last = [], {}, {}, {}
    while time.monotonic() - start < seconds:
        total = 0
        for pid in pids(cgroup):
            argv = cmdline(pid)
            if not argv or os.path.basename(argv[0]) != "ffmpeg":
                continue
            k = kind(argv)
            if want != "all" and k != want:
                continue
            p, c = pss_kib(pid), cpu(pid)
            if p is None or c is None:
                continue
            total += p
            jobs.setdefault(pid, {"pid": pid, "kind": k, "preset": value(argv, "-preset"),
                                  "threads": value(argv, "-threads"), "crf": value(argv, "-crf")})
            cpu_first.setdefault(pid, c)
            cpu_last[pid] = c
        totals.append(total)
        time.sleep(0.5)
    wall = time.monotonic() - start
    used = sum(cpu_last[p] - cpu_first[p] for p in cpu_last)
    print(json.dumps({"seconds": round(wall, 1), "samples": len(totals),
                      "pss_mib": {"median": round(statistics.median(totals) / 1024, 1) if totals else 0,
                                  "max": round(max(totals) / 1024, 1) if totals else 0},
                      "cpu_cores": round(used / wall, 2) if wall else 0, "jobs": list(jobs.values())}))


if __name__ == "__main__":
    main()
