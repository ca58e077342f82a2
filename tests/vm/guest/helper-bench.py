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

    # 3. pressure crossed: first firing of each watch after each stall start
    starts = []
    try:
        for line in open(os.path.join(out, "stall-starts.csv")):
            name, t = line.strip().split(",")
            starts.append(float(t) * 1e9)
    except OSError:
        pass
    fires = {"1": [], "2": []}
    for recv, e in user:
        if e["_type"] == "pressure":
            fires.setdefault(e["watch"], []).append(int(e["ts"]))
    sub2, two = [], []
    for i, s in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else float("inf")
        f1 = next((t for t in fires["1"] if s <= t < end), None)
        f2 = next((t for t in fires["2"] if s <= t < end), None)
        sub2.append((f1 - s) / 1e9 if f1 else None)
        two.append((f2 - s) / 1e9 if f2 else None)
    res["pressure_crossed"] = {"trigger_500ms_via_helper": stats(sub2), "trigger_2s": stats(two),
                               "per_ramp_s": [[a, b] for a, b in zip(sub2, two)],
                               "fires_500ms": len(fires["1"]), "fires_2s": len(fires["2"])}

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
    print(f"| pressure crossed (stress start → first trigger) | 500 ms window: {cell(p['trigger_500ms_via_helper'])} "
          f"| 2 s window: {cell(p['trigger_2s'])} |")
    if "oomd_kill_seen" in res:
        k = res["oomd_kill_seen"]
        print(f"| systemd-oomd's SIGKILL (kernel → client) | {k['helper_ms']} ms | D-Bus Killed: "
              f"{k['dbus_killed_signal_ms']} ms; journal line: {k['journal_line_ms']} ms |")
    print()
    print("cost:", json.dumps(res["cost"]))


if __name__ == "__main__":
    main()
