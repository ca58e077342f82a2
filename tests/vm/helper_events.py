"""guardian-helper's events in a scenario that ran it beside another workload (issue 13: "the
incident scenario where the whole user runs short runs once with it, and the events arrive while
the user's processes are under pressure").

The scenario's root client (guest/helper-client.py, root sees every user's events) writes
OUT/helper-root.log: "RECV_NS LINE", RECV_NS its CLOCK_MONOTONIC receive time. This module puts
each event on the run's real-time axis (marks.csv holds both clocks of every mark), next to the
pressure the oomd-watched cgroups had at that moment (pressure-trace.csv) and the kill oomd logged.
"""
import csv
import os

# A watched cgroup counts as "under pressure" while its some avg10 is at least this (percent):
# the default policy's own trigger is "some 150ms 2s" = 7.5 %.
UNDER_PRESSURE_SOME_AVG10 = 7.5


def clock_offset(marks_csv):
    """real - monotonic (seconds), from the first mark that has both (NAME,UPTIME,REALTIME).
    /proc/uptime is CLOCK_BOOTTIME; a guest that never suspends has it equal to MONOTONIC."""
    try:
        with open(marks_csv) as f:
            for row in csv.reader(f):
                if len(row) == 3:
                    try:
                        return float(row[2]) - float(row[1])
                    except ValueError:
                        continue
    except OSError:
        pass
    return None


def parse_line(line):
    """(recv_ns, type, fields) of one log line, or None. Values keep the wire's \\xHH escapes
    (only cgroup paths and comms are compared, and those have none in the test bed)."""
    recv, _, rest = line.rstrip("\n").partition(" ")
    if not recv.isdigit() or not rest:
        return None
    kind, *parts = rest.split(" ")
    fields = {}
    for p in parts:
        k, sep, v = p.partition("=")
        if sep:
            fields.setdefault(k, v)
    return int(recv), kind, fields


def pressure_at(trace, watched, t):
    """The most pressured watched cgroup's (some, full) avg10 at the last sample at or before t."""
    best = None
    for cg in watched:
        last = None
        for s in trace.get(cg, []):
            if s[0] > t:
                break
            last = s
        if last is not None and (best is None or last[2] > best[1]):
            best = (cg, last[2], last[1])
    return best


def helper_events(out, t_w, trace, watched, kills):
    """Events of guardian-helper during the run, or None when the run had no helper."""
    path = os.path.join(out, "helper-root.log")
    if not os.path.exists(path):
        # the scenario says "helper=1" in facts.env when it ran one: then a missing log is a failure
        try:
            with open(os.path.join(out, "facts.env")) as f:
                ran = any(line.strip() == "helper=1" for line in f)
        except OSError:
            ran = False
        return {"error": "the run had guardian-helper but no helper-root.log (see helper-clients.err)"} if ran else None
    off = clock_offset(os.path.join(out, "marks.csv"))
    if off is None:
        return {"error": "marks.csv has no clock pair"}
    events = []
    with open(path, errors="replace") as f:
        for line in f:
            p = parse_line(line)
            if p is None or p[1] not in ("exec", "exit", "oom-kill", "oomd-kill", "pressure"):
                continue
            recv_ns, kind, fields = p
            t = recv_ns / 1e9 + off
            # the kernel's time of the event (ts=, CLOCK_MONOTONIC ns) -> how late the client had it
            try:
                relay_ms = round((recv_ns - int(fields["ts"])) / 1e6, 1)
            except (KeyError, ValueError):
                relay_ms = None
            at = pressure_at(trace, watched, t)
            events.append({"at_s": round(t - t_w, 1), "type": kind, "comm": fields.get("comm"),
                           "cgroup": fields.get("cgroup"), "relay_ms": relay_ms,
                           "watched": at[0] if at else None,
                           "some_avg10": at[1] if at else None, "full_avg10": at[2] if at else None,
                           "under_pressure": bool(at and at[1] >= UNDER_PRESSURE_SOME_AVG10)})
    transcodes = [e for e in events if e["type"] == "exec" and (e["cgroup"] or "").endswith("jellyfin.service")]
    oomd = [e for e in events if e["type"] == "oomd-kill"]
    summary = {
        "events": len(events),
        "transcode_execs": len(transcodes),
        "transcode_execs_under_pressure": sum(1 for e in transcodes if e["under_pressure"]),
        "oomd_kill_events": len(oomd),
        "oomd_kill_events_under_pressure": sum(1 for e in oomd if e["under_pressure"]),
        "relay_ms_max": max((e["relay_ms"] for e in events if e["relay_ms"] is not None), default=None),
        "first": [e for e in events if e["type"] in ("exec", "oomd-kill", "oom-kill")][:12],
    }
    # each kill oomd logged: how much sooner the helper's first SIGKILL event reached a client
    summary["oomd_kills"] = []
    for k in kills:
        t_k = k["t"] - t_w
        first = next((e for e in oomd if e["at_s"] >= t_k - 30), None)
        summary["oomd_kills"].append({"journal_at_s": round(t_k, 1),
                                      "helper_at_s": first["at_s"] if first else None,
                                      "helper_before_journal_s": round(t_k - first["at_s"], 1) if first else None})
    return summary


def verdict(he, oomd_killed, need):
    """With the helper present: every oomd kill reached a client as an oomd-kill event, under
    pressure, and the transcodes' execs were relayed."""
    if he is None:
        return
    need("error" not in he, f"helper events: {he.get('error')}")
    need(he.get("transcode_execs", 0) > 0, "guardian-helper relayed no exec of the Jellyfin stand-in's ffmpeg")
    if oomd_killed:
        need(he.get("oomd_kill_events", 0) > 0, "systemd-oomd killed but guardian-helper relayed no oomd-kill event")
        need(he.get("oomd_kill_events_under_pressure", 0) > 0,
             "no oomd-kill event arrived while a watched cgroup was under pressure")
