#!/usr/bin/env python3
"""A "desktop application" for the VM test bed: an anonymous working set that grows and is used.

balloon.py --name NAME --start-mb N --step-mb S --interval I --max-mb M [--file-pct P --cache-dir D]
Starts with N MiB, adds S MiB every I seconds up to M MiB, and keeps touching every page of
what it holds (one write per 4 KiB page per pass, a pass every 0.5 s), as a busy browser or mail
client does. Prints its size each time it grows. No swap in the guest: this memory cannot be
reclaimed, so the rest of the system is squeezed into what is left.

--file-pct P: P % of each growth is a file in D (a browser's disk cache, mapped databases) that
it maps and reads on every pass instead of anonymous memory. Those pages can be reclaimed (and
are read back at once), so the app's cgroup shows reclaim activity (memory.stat pgscan): with
no swap, a slice of anonymous memory only is never scanned, and systemd-oomd (252) does not
kill in a cgroup without reclaim however high its pressure (measured: app.slice at 98% full
avg10 for minutes, pgscan 0, no kill; sqb-s19-fedora-1).
"""
import argparse
import mmap
import os
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--name", default="app")
ap.add_argument("--start-mb", type=int, default=64)
ap.add_argument("--step-mb", type=int, default=16)
ap.add_argument("--interval", type=float, default=1.0)
ap.add_argument("--max-mb", type=int, default=1024)
ap.add_argument("--file-pct", type=int, default=0)
ap.add_argument("--cache-dir", default=os.path.expanduser("~/.cache"))
a = ap.parse_args()

MB = 1 << 20
chunks = []
maps = []
cache_fd = None
cache_size = 0


def grow_file(mb):
    """mb MiB more of the cache file, written, flushed and mapped (clean page cache, reclaimable)."""
    global cache_fd, cache_size
    if cache_fd is None:
        os.makedirs(a.cache_dir, exist_ok=True)
        cache_fd = os.open(os.path.join(a.cache_dir, f"desktop-{a.name}.cache"),
                           os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    block = os.urandom(MB)
    for _ in range(mb):
        os.write(cache_fd, block)
    os.fsync(cache_fd)
    maps.append(mmap.mmap(cache_fd, mb * MB, mmap.MAP_SHARED, mmap.PROT_READ, offset=cache_size))
    cache_size += mb * MB


def grow(mb):
    file_mb = mb * a.file_pct // 100
    if file_mb:
        grow_file(file_mb)
    b = bytearray((mb - file_mb) * MB)
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
    for m in maps:  # and read the cached files, a byte per page
        m[tick % 4096::4096]
    time.sleep(0.5)
