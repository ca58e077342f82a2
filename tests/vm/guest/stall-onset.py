#!/usr/bin/env python3
"""When a stall began, for the helper bench's "pressure crossed" row: waits for a new cgroup to
appear, then reads its memory.pressure every --period seconds until "some total=" (µs stalled
since the cgroup was made, 0 at its creation; psi.rst) turns non-zero. The kernel sums the time
of the stall still going on into total when the file is read, so the stall began
total µs before that read, and after the previous read that still showed 0:
    onset = max(previous read, read - total)
Prints one line (CLOCK_MONOTONIC nanoseconds) to --out:
    NAME onset_ns=N read_ns=N prev_read_ns=N total_us=N
or "NAME timeout" when nothing stalled within --timeout.
Usage: stall-onset.py --out FILE --name NAME --cgroup DIR [--period 0.005] [--timeout 30]
"""
import argparse
import os
import sys
import time


def now_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def some_total(path):
    with open(path) as f:
        for line in f:
            if line.startswith("some "):
                return int(line.split("total=")[1])
    raise ValueError(f"{path}: no 'some' line")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--cgroup", required=True)
    ap.add_argument("--period", type=float, default=0.005)
    ap.add_argument("--timeout", type=float, default=30)
    a = ap.parse_args()
    path = os.path.join(a.cgroup, "memory.pressure")
    end = time.monotonic() + a.timeout
    prev = None
    while time.monotonic() < end:
        try:
            total = some_total(path)
        except OSError:  # not made yet (or already gone)
            time.sleep(a.period)
            continue
        t = now_ns()
        if total > 0:
            onset = t - total * 1000 if prev is None else max(prev, t - total * 1000)
            with open(a.out, "a") as out:
                out.write(f"{a.name} onset_ns={onset} read_ns={t} prev_read_ns={prev or 0} total_us={total}\n")
            return 0
        prev = t
        time.sleep(a.period)
    with open(a.out, "a") as out:
        out.write(f"{a.name} timeout\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
