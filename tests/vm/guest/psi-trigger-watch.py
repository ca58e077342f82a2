#!/usr/bin/env python3
"""guardian's own PSI trigger, for the helper bench's "pressure crossed" row: what an unprivileged
guardian arms without the helper (sense/psi_trigger.cpp): the pressure file opened
O_RDWR|O_NONBLOCK by its owner, the trigger text written with its terminating NUL (psi.rst), then
a wait for POLLPRI. Run as the user, on the user-owned slice guardian arms it on (app.slice), with
guardian's default trigger (policies/default.toml: "some 150ms 2s"). Logs each firing with its
CLOCK_MONOTONIC receive time in nanoseconds:
    RECV_NS fired path=PATH
    RECV_NS armed path=PATH trigger=TEXT        (or: RECV_NS error ... and exit 1)
Usage: psi-trigger-watch.py --out FILE --path CGROUP/memory.pressure [--trigger "some 150000 2000000"]
                            [--duration SECONDS]
"""
import argparse
import os
import select
import sys
import time


def now_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--trigger", default="some 150000 2000000")
    ap.add_argument("--duration", type=float, default=3600)
    a = ap.parse_args()
    out = open(a.out, "a", buffering=1)
    try:
        fd = os.open(a.path, os.O_RDWR | os.O_NONBLOCK)
        os.write(fd, a.trigger.encode() + b"\0")
    except OSError as e:
        out.write(f"{now_ns()} error path={a.path} trigger={a.trigger.replace(' ', '_')} message={e.strerror.replace(' ', '_')}\n")
        return 1
    out.write(f"{now_ns()} armed path={a.path} trigger={a.trigger.replace(' ', '_')}\n")
    poller = select.poll()
    poller.register(fd, select.POLLPRI)
    end = time.monotonic() + a.duration
    while time.monotonic() < end:
        for _, events in poller.poll(500):
            t = now_ns()
            if events & (select.POLLERR | select.POLLNVAL):
                out.write(f"{t} gone path={a.path}\n")
                return 0
            if events & select.POLLPRI:
                out.write(f"{t} fired path={a.path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
