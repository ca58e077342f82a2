#!/usr/bin/env python3
"""The helper scenario's figures (tests/vm/guest/scenarios/helper.sh), computed in the guest from
its logs: how long after the kernel event (the probe's ts, CLOCK_MONOTONIC) each path had it.
  helper:  the test user's client received the relayed event      (helper-user.log)
  polling: a 1 s poller scanning like guardian's tick saw it      (poller.log)
  journal: the journal entry guardian's kill watch reads was written (__MONOTONIC_TIMESTAMP)
  D-Bus:   systemd-oomd's Killed signal reached a listener        (oomd-dbus.log)
Writes OUT/helper-bench.json and prints a markdown table.
Usage: helper-bench.py OUT_DIR
"""
import json
import os
import re
import statistics
import subprocess
import sys


def lines(path):
    try:
        with open(path) as f:
            for line in f:
                recv, _, rest = line.rstrip("\n").partition(" ")
                if recv.isdigit():
                    yield int(recv), rest
    except OSError:
        return


def fields(rest):
    kind, *parts = rest.split(" ")
    out = {"_type": kind}
    for p in parts:
        k, _, v = p.partition("=")
        out.setdefault(k, v)
    return out


def journal(*match):
    try:
        text = subprocess.run(["journalctl", "-q", "--no-pager", "-o", "json", *match],
                              capture_output=True, text=True, timeout=120).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [json.loads(l) for l in text.splitlines() if l.startswith("{")]


def stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50_ms": round(statistics.median(values) * 1000, 1),
            "min_ms": round(min(values) * 1000, 1), "max_ms": round(max(values) * 1000, 1)}


def pressure_crossed(out, user):
    """3. pressure crossed: per stall, from its onset (stall-onset.py; the systemd-run call when
    that is missing) to the first firing after it of: the user's 500 ms watch through the helper
    (ts = the helper woke on the trigger, recv = the client had the relayed line), the user's 2 s
    watch through the helper on the same cgroup (polled as often as the 500 ms one), root's 2 s
    watch alone on user-UID.slice, guardian's own unprivileged 2 s trigger on app.slice
    (psi-trigger-watch.py: recv = poll() returned POLLPRI) and the same trigger opened by root.
    `user` is helper-user.log as (recv_ns, fields) pairs."""
    starts = []
    try:
        with open(os.path.join(out, "stall-starts.csv")) as f:
            for line in f:
                name, t = line.strip().split(",")
                starts.append((name, int(float(t) * 1e9)))
    except OSError:
        pass
    onsets = {}
    try:
        with open(os.path.join(out, "stall-onsets.txt")) as f:
            for line in f:
                name, *rest = line.split()
                kv = dict(p.partition("=")[::2] for p in rest)
                if "onset_ns" in kv:
                    onsets[name] = int(kv["onset_ns"])
    except OSError:
        pass
    watch_of = {}  # request -> the helper's watch id (ids are the helper's, shared by its clients)
    for _, e in user:
        if e["_type"] == "ok" and "watch" in e:
            watch_of.setdefault(e["request"], e["watch"])
    fires = {}  # watch -> [(ts, recv)]
    for recv, e in user:
        if e["_type"] == "pressure":
            fires.setdefault(e["watch"], []).append((int(e["ts"]), recv))
    fires_500 = fires.get(watch_of.get("1"), [])
    fires_2s = fires.get(watch_of.get("2"), [])
    root = [(r, fields(t)) for r, t in lines(os.path.join(out, "helper-root.log")) if not t.startswith("#")]
    root_watch = next((e["watch"] for _, e in root if e["_type"] == "ok" and e.get("request") == "1"), None)
    fires_2s_alone = [(int(e["ts"]), r) for r, e in root if e["_type"] == "pressure" and e["watch"] == root_watch]
    own = [r for r, t in lines(os.path.join(out, "own-trigger.log")) if t.startswith("fired ")]
    own_root = [r for r, t in lines(os.path.join(out, "root-trigger.log")) if t.startswith("fired ")]

    def first_after(times, since, until):
        return next((t for t in times if since <= (t[0] if isinstance(t, tuple) else t) < until), None)

    ramps = []
    for i, (name, started) in enumerate(starts):
        onset = onsets.get(name)
        since = onset if onset is not None else started
        until = starts[i + 1][1] if i + 1 < len(starts) else float("inf")
        f500 = first_after(fires_500, since, until)
        f2 = first_after(fires_2s, since, until)
        f2a = first_after(fires_2s_alone, since, until)
        fown = first_after(own, since, until)
        froot = first_after(own_root, since, until)
        ramp = {"stall": name, "onset_from": "psi total" if onset is not None else "systemd-run",
                "run_to_onset_s": (onset - started) / 1e9 if onset is not None else None,
                "helper_500ms_fired_s": (f500[0] - since) / 1e9 if f500 else None,
                "helper_500ms_client_s": (f500[1] - since) / 1e9 if f500 else None,
                "helper_relay_s": (f500[1] - f500[0]) / 1e9 if f500 else None,
                "helper_2s_client_s": (f2[1] - since) / 1e9 if f2 else None,
                "helper_2s_alone_client_s": (f2a[1] - since) / 1e9 if f2a else None,
                "own_2s_s": (fown - since) / 1e9 if fown else None,
                "root_2s_same_file_s": (froot - since) / 1e9 if froot else None,
                # a firing in the window before the onset would hold the next one back by a window
                "fired_before_onset": sum(1 for t, _ in fires_500 if since - 5 * 10**8 <= t < since)
                + sum(1 for t in own if since - 2 * 10**9 <= t < since)}
        if ramp["helper_500ms_client_s"] and ramp["own_2s_s"]:
            ramp["own_over_helper"] = ramp["own_2s_s"] / ramp["helper_500ms_client_s"]
        ramps.append(ramp)
    col = lambda k: [r[k] for r in ramps if r.get(k) is not None]  # noqa: E731
    ratios = col("own_over_helper")
    return {
        "helper_500ms_window_to_client": stats(col("helper_500ms_client_s")),
        "helper_500ms_window_fired": stats(col("helper_500ms_fired_s")),
        "helper_relay": stats(col("helper_relay_s")),
        "helper_2s_window_next_to_500ms": stats(col("helper_2s_client_s")),
        "helper_2s_window_alone_on_user_slice": stats(col("helper_2s_alone_client_s")),
        "own_2s_trigger": stats(col("own_2s_s")),
        "own_2s_missed": sum(1 for r in ramps if r["own_2s_s"] is None),
        "root_2s_trigger_same_file": stats(col("root_2s_same_file_s")),
        "fires_root_same_file": len(own_root),
        "own_over_helper_p50": round(statistics.median(ratios), 2) if ratios else None,
        "own_over_helper_min_max": [round(min(ratios), 2), round(max(ratios), 2)] if ratios else None,
        "watches": watch_of, "fires_500ms": len(fires_500), "fires_2s": len(fires_2s), "fires_own": len(own),
        "ramps": ramps}


def guardian_woken(out, user):
    """guardian woken by the helper's relayed watch (guardian-journal.jsonl: guardian's journal,
    helper-wake.toml's level "woken" entered on trigger_fired, a 10 s tick). For each entry into
    it: from the helper's firing to the journal entry of guardian's level change (the tick that
    the relayed firing woke ran, decided and told), and from the stall's onset for the first
    entry in a stall. The firing is the user's client's 500 ms watch on user@UID.service, the
    twin of the one guardian asks for (the same trigger on the same file: at a stall's start after a quiet longer
    than the window the kernel fires both in the same poll pass); only a firing at most 1 s
    before the entry is taken. Also: systemd-oomd's kill as guardian told it, from the helper's
    oomd-kill ts."""
    entries = []
    try:
        with open(os.path.join(out, "guardian-journal.jsonl")) as f:
            entries = [json.loads(l) for l in f if l.startswith("{")]
    except OSError:
        return None
    watch = next((e["watch"] for _, e in user if e["_type"] == "ok" and e.get("request") == "1" and "watch" in e),
                 None)
    fires = sorted(int(e["ts"]) for _, e in user if e["_type"] == "pressure" and e["watch"] == watch)
    stalls = []
    try:
        starts = [line.strip().split(",") for line in open(os.path.join(out, "stall-starts.csv"))]
        onsets = {}
        for line in open(os.path.join(out, "stall-onsets.txt")):
            name, *rest = line.split()
            kv = dict(p.partition("=")[::2] for p in rest)
            if "onset_ns" in kv:
                onsets[name] = int(kv["onset_ns"])
        for i, (name, t) in enumerate(starts):
            until = int(float(starts[i + 1][1]) * 1e9) if i + 1 < len(starts) else float("inf")
            if name in onsets:
                stalls.append((name, onsets[name], until))
    except (OSError, ValueError):
        pass
    woken, timed_stalls = [], set()
    for e in entries:
        if e.get("GUARDIAN_EVENT") != "level-changed" or e.get("GUARDIAN_LEVEL") != "woken":
            continue
        at = int(e["__MONOTONIC_TIMESTAMP"]) * 1000
        fired = next((t for t in reversed(fires) if at - 10**9 <= t <= at), None)
        stall = next(((n, o) for n, o, u in stalls if o <= at < u), None)
        if stall and stall[0] in timed_stalls:
            stall = None  # a stall's onset is timed to the first entry after it only
        if stall:
            timed_stalls.add(stall[0])
        woken.append({"at_ns": at, "firing_to_level_s": (at - fired) / 1e9 if fired else None,
                      "stall": stall[0] if stall else None,
                      "onset_to_level_s": (at - stall[1]) / 1e9 if stall else None})
    kills = [(r, e) for r, e in user if e["_type"] == "oomd-kill"]
    told = [e for e in entries if e.get("GUARDIAN_EVENT") == "oom-kill" and e.get("GUARDIAN_KILLER") == "systemd-oomd"]
    oomd = None
    if told:
        first = told[0]
        at = int(first["__MONOTONIC_TIMESTAMP"]) * 1000
        ts = next((int(e["ts"]) for _, e in kills if int(e["ts"]) <= at), None)
        oomd = {"seen_by": first.get("GUARDIAN_SEEN_BY"), "cgroup": first.get("GUARDIAN_CGROUP"),
                "sigkill_to_told_ms": round((at - ts) / 1e6, 1) if ts else None, "told": len(told)}
    col = lambda k: [w[k] for w in woken if w.get(k) is not None]  # noqa: E731
    return {"entries": len(woken), "twin_watch": watch,
            "firing_to_level": stats(col("firing_to_level_s")),
            "onset_to_level": stats(col("onset_to_level_s")),
            "woken": woken, "oomd_kill_told": oomd}


def main():
    out = sys.argv[1]
    user = [(r, fields(t)) for r, t in lines(os.path.join(out, "helper-user.log")) if not t.startswith("#")]
    poll = [(r, fields(t)) for r, t in lines(os.path.join(out, "poller.log"))]
    res = {}

    # 1. transcode started
    helper_d, poll_d = [], []
    for recv, e in user:
        if e["_type"] == "exec" and "bench-ffmpeg-" in e.get("cgroup", ""):
            ts = int(e["ts"])
            helper_d.append((recv - ts) / 1e9)
            seen = next((r for r, p in poll if p["_type"] == "ffmpeg" and p.get("pid") == e["pid"]), None)
            poll_d.append((seen - ts) / 1e9 if seen else None)
    res["transcode_started"] = {"helper": stats(helper_d), "polling_1s": stats(poll_d),
                                "polling_missed": sum(1 for d in poll_d if d is None)}

    # 2. OOM kill seen
    entries = journal("MESSAGE_ID=fe6faa94e7774663a0da52717891d8ef")
    helper_d, poll_d, journal_d = [], [], []
    for recv, e in user:
        if e["_type"] == "oom-kill" and "oomhog-" in e.get("cgroup", ""):
            ts = int(e["ts"])
            unit = re.search(r"(oomhog-\d+\.service)", e["cgroup"]).group(1)
            helper_d.append((recv - ts) / 1e9)
            seen = next((r for r, p in poll if p["_type"] == "oom_kill" and r >= ts), None)
            poll_d.append((seen - ts) / 1e9 if seen else None)
            entry = next((j for j in entries if (j.get("USER_UNIT") or j.get("UNIT")) == unit), None)
            journal_d.append((int(entry["__MONOTONIC_TIMESTAMP"]) * 1000 - ts) / 1e9 if entry else None)
    res["oom_kill_seen"] = {"helper": stats(helper_d), "polling_1s_memory_events": stats(poll_d),
                            "journal_manager_entry": stats(journal_d),
                            "memcg_matches_victim_cgroup": all(
                                e.get("memcg") == e.get("cgroup") for _, e in user
                                if e["_type"] == "oom-kill" and "oomhog-" in e.get("cgroup", ""))}

    res["pressure_crossed"] = pressure_crossed(out, user)
    woken = guardian_woken(out, user)
    if woken is not None:
        res["guardian_woken"] = woken

    # 4. systemd-oomd's kill
    kills = [(r, e) for r, e in user if e["_type"] == "oomd-kill"]
    if kills:
        first_recv, first = kills[0]
        ts = int(first["ts"])
        dbus = next((r for r, _ in lines(os.path.join(out, "oomd-dbus.log")) if r >= ts - 5 * 10**9), None)
        oomd_lines = [j for j in journal("_SYSTEMD_UNIT=systemd-oomd.service")
                      if "Killed " in j.get("MESSAGE", "") and int(j["__MONOTONIC_TIMESTAMP"]) * 1000 >= ts - 5 * 10**9]
        res["oomd_kill_seen"] = {
            "sigkills_relayed": len(kills), "victim": first.get("cgroup"),
            "helper_ms": round((first_recv - ts) / 1e6, 1),
            "dbus_killed_signal_ms": round((dbus - ts) / 1e6, 1) if dbus else None,
            "journal_line_ms": round((int(oomd_lines[0]["__MONOTONIC_TIMESTAMP"]) * 1000 - ts) / 1e6, 1)
            if oomd_lines else None}

    # 6. cost
    facts = {}
    try:
        for line in open(os.path.join(out, "facts.env")):
            k, _, v = line.strip().partition("=")
            facts[k] = v
    except OSError:
        pass
    cost = {k: facts.get(k) for k in ("helper_rss_kb_idle", "helper_pss_kb_idle", "helper_rss_kb_after_burst",
                                       "helper_pss_kb_after_burst", "helper_rss_kb_end")}
    try:
        execs = int(facts["burst_execs"])
        cpu_s = int(facts["burst_helper_cpu_ticks"]) / int(facts["clk_tck"])
        cost["burst_records"] = 2 * execs
        cost["helper_cpu_us_per_record"] = round(cpu_s * 1e6 / (2 * execs), 1)
        cost["burst_lines_to_user"] = int(facts["burst_user_lines"])
    except (KeyError, ValueError, ZeroDivisionError):
        pass
    try:
        for line in open(os.path.join(out, "helper-journal.txt")):
            m = re.search(r"program (\S+) ran (\d+) times, (\d+) ns each", line)
            if m:
                cost.setdefault("kernel_ns_per_run", {})[m.group(1)] = {"runs": int(m.group(2)), "ns": int(m.group(3))}
            m = re.search(r"stopping: (.*)", line)
            if m:
                cost["helper_stop_line"] = m.group(1)
    except OSError:
        pass
    res["cost"] = cost

    with open(os.path.join(out, "helper-bench.json"), "w") as f:
        json.dump(res, f, indent=2)

    def cell(s):
        return f"{s['p50_ms']} ms (min {s['min_ms']}, max {s['max_ms']}, n={s['n']})" if s.get("n") else "–"
    t, o, p = res["transcode_started"], res["oom_kill_seen"], res["pressure_crossed"]
    print("| what | with the helper | without |")
    print("|---|---|---|")
    print(f"| transcode started (exec → client) | {cell(t['helper'])} | 1 s poll: {cell(t['polling_1s'])} |")
    print(f"| OOM kill seen (kernel → client) | {cell(o['helper'])} | 1 s poll of memory.events: "
          f"{cell(o['polling_1s_memory_events'])}; journal entry: {cell(o['journal_manager_entry'])} |")
    print(f"| pressure crossed (stall onset → client) | 500 ms window via the helper: "
          f"{cell(p['helper_500ms_window_to_client'])} (relay {cell(p['helper_relay'])}) "
          f"| own unprivileged 2 s trigger: {cell(p['own_2s_trigger'])} (a 2 s watch alone through the helper: "
          f"{cell(p['helper_2s_window_alone_on_user_slice'])}; opened by root: "
          f"{cell(p['root_2s_trigger_same_file'])}); no firing in {p['own_2s_missed']} of {len(p['ramps'])} stalls; "
          f"ratio p50 {p['own_over_helper_p50']} |")
    if "oomd_kill_seen" in res:
        k = res["oomd_kill_seen"]
        print(f"| systemd-oomd's SIGKILL (kernel → client) | {k['helper_ms']} ms | D-Bus Killed: "
              f"{k['dbus_killed_signal_ms']} ms; journal line: {k['journal_line_ms']} ms |")
    if "guardian_woken" in res:
        g = res["guardian_woken"]
        told = g["oomd_kill_told"] or {}
        print(f"| guardian woken by the relayed watch (10 s tick) | firing → level change: "
              f"{cell(g['firing_to_level'])}; stall onset → level change: {cell(g['onset_to_level'])} "
              f"| oomd's kill told: {told.get('sigkill_to_told_ms')} ms after the SIGKILL, seen by {told.get('seen_by')} |")
    print()
    print("cost:", json.dumps(res["cost"]))


if __name__ == "__main__":
    main()
