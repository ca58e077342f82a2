#!/usr/bin/env python3
"""Where does guardian wait? A root-side probe for the VM test bed (issue 10).

stall-probe.py OUT.jsonl [--interval 0.15] [--uid 1000] [--unit app.slice/guardian.service]

Runs as root from the scenario runner (system.slice: outside the test user's memory budget,
memory locked, so it keeps sampling under the pressure it measures). Every INTERVAL seconds it
writes one JSON line:
  t_mono, t_real
  g      guardian's main process, when guardian.service has one: per thread (tid): comm, state,
         wchan, majflt, minflt, utime/stime (clock ticks), schedstat (run ns, run-queue wait ns,
         timeslices), blkio delay ticks (field 42, needs delay accounting), and the kernel stack
         when the thread is not idle in epoll/futex/poll (or always for the main thread);
         status: VmRSS, RssAnon, RssFile, VmLck, ctxt switches; timers: each timerfd's unread
         expirations and time to the next (fdinfo), from which the tick's lateness follows.
  gcg    guardian.service's cgroup: memory.current/high/max, memory.events, memory.pressure
         (some/full total µs), cpu.pressure and io.pressure totals, a few memory.stat keys.
  ucg    the user manager's cgroup (user@UID.service): the same, and its limits.
  ccg    container.slice: the same (its own limits, and how often they throttled it).
  sys    MemAvailable, MemFree, Cached, /proc/pressure/memory totals, /proc/vmstat counters
         (pgscan, pgsteal, workingset refaults, pgmajfault, allocstall).
The analysis (tests/vm/analyze.py) turns this into the stall's account and the approach signals.
"""
import argparse
import ctypes
import json
import os
import signal
import time

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--interval", type=float, default=0.15)
ap.add_argument("--uid", type=int, default=1000)
ap.add_argument("--unit", default="app.slice/guardian.service")
ap.add_argument("--pid", type=int, help="probe this process instead of the unit's main process (a check)")
a = ap.parse_args()

CG = "/sys/fs/cgroup"
USER_MGR = f"/user.slice/user-{a.uid}.slice/user@{a.uid}.service"
GCG = f"{CG}{USER_MGR}/{a.unit}"
UCG = f"{CG}{USER_MGR}"
# Where a thread that waits for nothing in particular sits; any other wchan is worth its stack.
IDLE_WCHAN = {"do_epoll_wait", "ep_poll", "futex_wait_queue", "futex_wait_queue_me", "futex_do_wait", "do_sys_poll",
              "poll_schedule_timeout", "do_select", "hrtimer_nanosleep", "do_nanosleep",
              "unix_stream_read_generic", "inet_csk_accept", "do_sigtimedwait"}
STAT_KEYS = ("anon", "file", "file_mapped", "active_file", "inactive_file", "kernel", "sock",
             "workingset_refault_anon", "workingset_refault_file", "workingset_activate_file",
             "workingset_restore_file", "pgscan", "pgsteal", "pgmajfault", "pgfault")
VMSTAT_KEYS = ("pgscan_kswapd", "pgscan_direct", "pgsteal_kswapd", "pgsteal_direct",
               "workingset_refault_file", "workingset_refault_anon", "workingset_activate_file",
               "pgmajfault", "allocstall_normal", "allocstall_movable", "oom_kill")
running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
try:  # our own pages must not be reclaimed while we measure reclaim
    ctypes.CDLL(None, use_errno=True).mlockall(1 | 2)
except Exception:
    pass


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def kv(text, keys=None):
    d = {}
    for line in (text or "").splitlines():
        p = line.split()
        if len(p) >= 2 and (keys is None or p[0] in keys):
            try:
                d[p[0].rstrip(":")] = int(p[1])
            except ValueError:
                pass
    return d


def psi_totals(text):
    d = {}
    for line in (text or "").splitlines():
        p = line.split()
        if p:
            f = dict(x.split("=", 1) for x in p[1:])
            d[p[0]] = {"avg10": float(f.get("avg10", 0)), "total": int(f.get("total", 0))}
    return d


def limit(text):
    t = (text or "").strip()
    return None if t in ("", "max") else int(t)


def cgroup(path, stat_keys):
    if not os.path.isdir(path):
        return None
    return {
        "current": limit(read(path + "/memory.current")),
        "high": limit(read(path + "/memory.high")),
        "max": limit(read(path + "/memory.max")),
        "min": limit(read(path + "/memory.min")),
        "low": limit(read(path + "/memory.low")),
        "events": kv(read(path + "/memory.events")),
        "mem": psi_totals(read(path + "/memory.pressure")),
        "cpu": psi_totals(read(path + "/cpu.pressure")),
        "io": psi_totals(read(path + "/io.pressure")),
        "stat": kv(read(path + "/memory.stat"), stat_keys),
    }


def main_pid():
    procs = (read(GCG + "/cgroup.procs") or "").split()
    return int(procs[0]) if procs else None


def thread(pid, tid, always_stack):
    base = f"/proc/{pid}/task/{tid}"
    st = read(base + "/stat")
    if not st:
        return None
    # comm may hold spaces: the fields after ')' are fixed
    comm = st[st.index("(") + 1:st.rindex(")")]
    f = st[st.rindex(")") + 2:].split()
    # f[0] = state (field 3); minflt = field 10, majflt 12, utime 14, stime 15, blkio 42
    wchan = (read(base + "/wchan") or "").strip()
    sched = (read(base + "/schedstat") or "").split()
    t = {"tid": tid, "comm": comm, "state": f[0], "wchan": wchan, "minflt": int(f[7]),
         "majflt": int(f[9]), "utime": int(f[11]), "stime": int(f[12]),
         "blkio": int(f[39]) if len(f) > 39 else None,
         "run_ns": int(sched[0]) if sched else None, "wait_ns": int(sched[1]) if len(sched) > 1 else None,
         "slices": int(sched[2]) if len(sched) > 2 else None}
    if always_stack or f[0] in ("D", "R") or (wchan and wchan != "0" and wchan.split(".")[0] not in IDLE_WCHAN):
        stack = read(base + "/stack")
        if stack:
            t["stack"] = [ln.split("] ", 1)[-1].split("+")[0] for ln in stack.splitlines()][:14]
    return t


def harness():
    procs = (read(CG + "/system.slice/guardian-vm-scenario.service/cgroup.procs") or "").split()
    out = []
    for p in procs:
        st = read(f"/proc/{p}/stat")
        if not st:
            continue
        cmd = (read(f"/proc/{p}/cmdline") or "").replace("\0", " ").strip()[:100]
        out.append([int(p), st[st.rindex(")") + 2], (read(f"/proc/{p}/wchan") or "").strip(), cmd])
    return out


_timerfds = {}


def timers(pid):
    """guardian's timerfds: expirations not yet read ("ticks") and time to the next one. A loop
    that is late has read none of the expirations since the oldest one it missed: lateness =
    ticks * interval - remaining."""
    fds = _timerfds.get(pid)
    if not fds:  # (again while none is found: guardian creates its timer after it starts)
        fds = []
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:[timerfd]":
                        fds.append(int(fd))
                except OSError:
                    pass
        except OSError:
            return []
        _timerfds.clear()
        _timerfds[pid] = fds
    res = []
    for fd in fds:
        info = read(f"/proc/{pid}/fdinfo/{fd}")
        if not info:
            _timerfds.pop(pid, None)
            continue
        d = {"fd": fd}
        for line in info.splitlines():
            k, _, v = line.partition(":")
            v = v.strip()
            if k == "ticks":
                d["ticks"] = int(v)
            elif k in ("it_value", "it_interval"):
                sec, nsec = v.strip("()").split(",")
                d[k] = int(sec) + int(nsec) / 1e9
        res.append(d)
    return res


def guardian(pid):
    status = read(f"/proc/{pid}/status")
    if status is None:
        return None
    s = kv(status, {"VmRSS:", "RssAnon:", "RssFile:", "RssShmem:", "VmLck:", "VmSize:", "Threads:",
                    "voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:"})
    threads = []
    try:
        tids = sorted(int(x) for x in os.listdir(f"/proc/{pid}/task"))
    except OSError:
        tids = []
    for tid in tids:
        t = thread(pid, tid, tid == pid)
        if t:
            threads.append(t)
    return {"pid": pid, "status": s, "threads": threads, "timers": timers(pid)}


with open(a.out, "w", buffering=1) as out:
    nxt = time.monotonic()
    pid = None
    last_harness = 0.0
    while running:
        tm, tr = time.monotonic(), time.time()
        if a.pid:
            pid = a.pid
        elif pid is None or not os.path.exists(f"/proc/{pid}"):
            pid = main_pid()
        meminfo = kv(read("/proc/meminfo"), {"MemTotal:", "MemAvailable:", "MemFree:", "Cached:", "Mlocked:",
                                             "Active(file):", "Inactive(file):", "AnonPages:"})
        row = {"t_mono": round(tm, 3), "t_real": round(tr, 3),
               "g": guardian(pid) if pid else None,
               "gcg": cgroup(GCG, STAT_KEYS),
               "ucg": cgroup(UCG, STAT_KEYS),
               "ccg": cgroup(UCG + "/container.slice", STAT_KEYS),
               "sys": {"meminfo": meminfo,
                       "psi": psi_totals(read("/proc/pressure/memory")),
                       "vmstat": kv(read("/proc/vmstat"), VMSTAT_KEYS)}}
        if tm - last_harness >= 5.0:  # the scenario runner's own processes: where a hung harness waits
            last_harness = tm
            row["h"] = harness()
        row["dt"] = round(time.monotonic() - tm, 4)
        out.write(json.dumps(row, separators=(",", ":")) + "\n")
        nxt += a.interval
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            nxt = time.monotonic()
