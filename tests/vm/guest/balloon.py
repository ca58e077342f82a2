#!/usr/bin/env python3
"""A "desktop application" for the VM test bed: an anonymous working set that grows and is used.

balloon.py --name NAME --start-mb N --step-mb S --interval I --max-mb M
Starts with N MiB, adds S MiB every I seconds up to M MiB, and keeps touching every page of
what it holds (one write per 4 KiB page per pass, a pass every 0.5 s), as a busy browser or mail
client does. Prints its size each time it grows. No swap in the guest: this memory cannot be
reclaimed, so the rest of the system is squeezed into what is left.
"""
import argparse
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--name", default="app")
ap.add_argument("--start-mb", type=int, default=64)
ap.add_argument("--step-mb", type=int, default=16)
ap.add_argument("--interval", type=float, default=1.0)
ap.add_argument("--max-mb", type=int, default=1024)
a = ap.parse_args()

MB = 1 << 20
chunks = []


def grow(mb):
    b = bytearray(mb * MB)
    b[::4096] = b"\x01" * len(range(0, len(b), 4096))
    chunks.append(b)


grow(a.start_mb)
size = a.start_mb
print(f"{a.name}: started with {size} MiB", flush=True)
next_grow = time.monotonic() + a.interval
tick = 0
while True:
    now = time.monotonic()
    if size < a.max_mb and now >= next_grow:
        step = min(a.step_mb, a.max_mb - size)
        grow(step)
        size += step
        next_grow = now + a.interval
        print(f"{a.name}: {size} MiB", flush=True)
    tick = (tick + 1) & 0xFF
    for b in chunks:  # use the working set
        b[tick % 4096::4096] = b"\x02" * len(range(tick % 4096, len(b), 4096))
    time.sleep(0.5)
