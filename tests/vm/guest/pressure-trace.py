#!/usr/bin/env python3
"""Pressure trace for the VM test bed: once a second, one CSV row per cgroup.

Traced: the system (/proc/pressure/memory, cgroup "/"), every slice and service of the test
user's manager (user@UID.service and everything below it, up to depth 3), user.slice,
user-UID.slice and system.slice. Columns:
  t_mono,t_real,cgroup,some_avg10,full_avg10,some_total_us,full_total_us,current_bytes,pgscan
Runs as root from the scenario runner; locks its memory so it keeps sampling under pressure.
Stops on SIGTERM/SIGINT. Usage: pressure-trace.py OUT.csv [UID]
"""
import ctypes
import os
import signal
import sys
import time

CG = "/sys/fs/cgroup"
out_path = sys.argv[1]
uid = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
try:  # MCL_CURRENT | MCL_FUTURE: our pages must not be reclaimed while we measure reclaim
    ctypes.CDLL(None, use_errno=True).mlockall(1 | 2)
except Exception:
    pass


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def psi(text):
    res = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if not parts:
            continue
        kv = dict(p.split("=", 1) for p in parts[1:])
        res[parts[0]] = (kv.get("avg10", ""), kv.get("total", ""))
    return res


def pgscan(text):
    for line in (text or "").splitlines():
        if line.startswith("pgscan "):
            return line.split()[1]
    return ""


def cgroups():
    user_mgr = f"/user.slice/user-{uid}.slice/user@{uid}.service"
    fixed = ["/system.slice", "/user.slice", f"/user.slice/user-{uid}.slice", user_mgr]
    found = []
    base = CG + user_mgr
    for dirpath, dirnames, _ in os.walk(base):
        depth = dirpath[len(base):].count("/")
        if depth >= 3:
            dirnames[:] = []
        for d in dirnames:
            if d.endswith((".slice", ".service", ".scope")) and not d.startswith("init.scope"):
                found.append(os.path.join(dirpath, d)[len(CG):])
    return fixed + sorted(found)


with open(out_path, "w", buffering=1) as out:
    out.write("t_mono,t_real,cgroup,some_avg10,full_avg10,some_total_us,full_total_us,current_bytes,pgscan\n")
    nxt = time.monotonic()
    while running:
        tm, tr = time.monotonic(), time.time()
        rows = []
        p = psi(read("/proc/pressure/memory"))
        mem = read("/proc/meminfo") or ""
        total = avail = 0
        for line in mem.splitlines():
            if line.startswith("MemTotal:"):
                total = int(line.split()[1]) * 1024
            elif line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
        s, f = p.get("some", ("", "")), p.get("full", ("", ""))
        rows.append(("/", s[0], f[0], s[1], f[1], str(total - avail), ""))
        for cg in cgroups():
            d = CG + cg
            p = psi(read(d + "/memory.pressure"))
            if not p:
                continue
            s, f = p.get("some", ("", "")), p.get("full", ("", ""))
            cur = (read(d + "/memory.current") or "").strip()
            rows.append((cg, s[0], f[0], s[1], f[1], cur, pgscan(read(d + "/memory.stat"))))
        out.write("".join(f"{tm:.3f},{tr:.3f},{','.join(r)}\n" for r in rows))
        nxt += 1.0
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            nxt = time.monotonic()
