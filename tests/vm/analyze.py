#!/usr/bin/env python3
"""Analyse one VM test-bed run: tests/vm/analyze.py OUT_DIR --scenario NAME [--skip REASON]

Reads what the guest collected (journal.json, trace.csv, oomctl-*.txt, marks.csv, facts.env,
checks.txt) and writes OUT_DIR/result.json and OUT_DIR/result.md (a verdict line — for
squeeze-guarded followed by one line per named bar, squeeze.bar_lines — and a markdown table
row). Every figure comes from those files. Prints the verdict.
Exit: 0 PASS or SKIP, 1 FAIL.
"""
import argparse
import csv
import json
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import squeeze as squeeze_mod  # noqa: E402
import helper_events as helper_events_mod  # noqa: E402

MANAGER_OOMD_MSGID = "d989611b15e44c9dbf31e3c81256e4ed"
KILL_RE = re.compile(r"Killed (\S+) due to memory pressure for (\S+) being ([\d.]+)% > ([\d.]+)% "
                     r"for > (\S+?) with reclaim activity")
TABLE_HEADER = ("| scenario | verdict | oomd kills | kernel OOM kills | max full avg10 per watched "
                "slice (limit) | stall onset → oomd kill | reaction p50 / p99 | lead over oomd "
                "deadline | HLS segments under pressure | run time |\n"
                "|---|---|---|---|---|---|---|---|---|---|")


def short(cg):
    """Readable name of a cgroup path: the part below user@UID.service, or the path."""
    m = re.search(r"user@\d+\.service/(.*)", cg or "")
    return m.group(1) if m else (cg or "?")


def load_env(path):
    d = {}
    if os.path.exists(path):
        for line in open(path):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                d[k] = v
    return d


def load_marks(path):
    marks = {}
    if os.path.exists(path):
        for row in csv.reader(open(path)):
            if len(row) == 3:
                marks.setdefault(row[0], []).append(float(row[2]))
    return marks


def load_journal(path):
    entries = []
    if not os.path.exists(path):
        return entries
    for line in open(path, errors="replace"):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        msg = e.get("MESSAGE")
        if isinstance(msg, list):  # binary-safe form
            msg = bytes(msg).decode(errors="replace")
        e["MESSAGE"] = msg or ""
        e["_t"] = int(e.get("__REALTIME_TIMESTAMP", "0")) / 1e6
        entries.append(e)
    return entries


def load_trace(path):
    series = {}
    if not os.path.exists(path):
        return series
    with open(path) as f:
        for r in csv.DictReader(f):
            try:
                t = float(r["t_real"])
                full = float(r["full_avg10"]) if r["full_avg10"] else math.nan
                some = float(r["some_avg10"]) if r["some_avg10"] else math.nan
                ftot = int(r["full_total_us"]) if r["full_total_us"] else None
            except (ValueError, KeyError):
                continue
            series.setdefault(r["cgroup"], []).append((t, full, some, ftot))
    return series


def parse_oomctl(paths):
    """Union of memory-pressure-monitored cgroups with their limits, and the default duration."""
    watched, duration = {}, None
    for p in paths:
        if not os.path.exists(p):
            continue
        section, cur = None, None
        for line in open(p, errors="replace"):
            s = line.strip()
            m = re.match(r"Default Memory Pressure Duration: (\S+)", s)
            if m:
                duration = parse_seconds(m.group(1))
            if s.startswith("Memory Pressure Monitored CGroups"):
                section = "mem"
            elif s.startswith("Swap Monitored CGroups"):
                section = "swap"
            elif s.startswith("Path: "):
                cur = s[6:] if section == "mem" else None
                if cur:
                    watched.setdefault(cur, None)
            elif cur and s.startswith("Memory Pressure Limit: "):
                watched[cur] = float(s.split(":")[1].strip().rstrip("%"))
    return watched, duration


def parse_seconds(s):
    total, ok = 0.0, False
    for num, unit in re.findall(r"([\d.]+)(min|ms|us|s|h)?", s):
        ok = True
        total += float(num) * {"min": 60, "ms": 1e-3, "us": 1e-6, "h": 3600}.get(unit, 1)
    return total if ok else None


def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    k = (len(xs) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def fmt_s(x):
    return "–" if x is None else f"{x:.1f} s"


def stall_onset(samples, t_from, t_to, share=0.5):
    """First sample in [t_from, t_to] where the cgroup's instantaneous full-stall share
    (Δ full total / Δ time) reaches `share` — the stall itself, before avg10 catches up."""
    prev = None
    for t, _, _, ftot in samples:
        if ftot is None:
            continue
        if prev and t_from <= t <= t_to and t > prev[0]:
            if (ftot - prev[1]) / 1e6 / (t - prev[0]) >= share:
                return prev[0]
        prev = (t, ftot)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--skip")
    ap.add_argument("--baseline", help="squeeze-guarded: a squeeze-baseline run (dir or result.json) of the "
                    "same oomd profile and parameters, or a reference file (tests/vm/squeeze-baselines.json) "
                    "with one, to set the first climb and the pressure onset against its kill and onset")
    a = ap.parse_args()
    out, name = a.out, a.scenario
    res = {"scenario": name}

    if a.skip:
        res.update(verdict="SKIP", reason=a.skip)
        return finish(out, res)

    skip = os.path.join(out, "skip.txt")
    if os.path.exists(skip):
        res.update(verdict="SKIP", reason=open(skip).read().strip()[:300])
        return finish(out, res)
    facts = load_env(os.path.join(out, "facts.env"))
    marks = load_marks(os.path.join(out, "marks.csv"))
    journal = load_journal(os.path.join(out, "journal.json"))
    if not journal:  # the guest hung before collecting: the journal as it was followed
        journal = load_journal(os.path.join(out, "journal-follow.json"))
        if journal:
            res["journal_source"] = "journal-follow.json (the guest did not finish its collection)"
    trace = load_trace(os.path.join(out, "trace.csv"))
    watched, duration = parse_oomctl([os.path.join(out, f) for f in
                                      ("oomctl-before.txt", "oomctl-during.txt", "oomctl-after.txt")])
    res["facts"] = facts
    res["oomd_duration_s"] = duration
    res["watched"] = {short(k): v for k, v in watched.items()}
    problems = []
    if not journal:
        problems.append("no journal exported (did the guest finish? see console.log)")
    if not trace:
        problems.append("no pressure trace")

    t_start = (marks.get("pressure_start") or marks.get("ramp_start") or marks.get("scenario_start") or [None])[0]
    t_end = (marks.get("workload_stopped") or marks.get("scenario_end") or [None])[0]
    res["pressure_phase_s"] = (t_end - t_start) if (t_start and t_end) else None

    # systemd-oomd kills, the manager's record of them, kernel OOM kills
    kills = []
    for e in journal:
        if e.get("SYSLOG_IDENTIFIER") == "systemd-oomd" or e.get("_SYSTEMD_UNIT") == "systemd-oomd.service":
            m = KILL_RE.search(e["MESSAGE"])
            if m:
                kills.append({"t": e["_t"], "victim": m.group(1), "monitored": m.group(2),
                              "pressure": float(m.group(3)), "limit": float(m.group(4)),
                              "duration": m.group(5), "line": e["MESSAGE"]})
    if not kills and not journal:
        # No journal at all (a guest that never finished, before journal-follow.json existed):
        # the scenario logs each oomd kill it saw as "oomd: <unix time> <host> systemd-oomd[pid]: Killed …".
        sl = os.path.join(out, "scenario.log")
        for line in open(sl, errors="replace") if os.path.exists(sl) else []:
            m = re.search(r"\] oomd: ([\d.]+) \S+ systemd-oomd\[\d+\]: (.*)$", line)
            k = KILL_RE.search(m.group(2)) if m else None
            if k:
                kills.append({"t": float(m.group(1)), "victim": k.group(1), "monitored": k.group(2),
                              "pressure": float(k.group(3)), "limit": float(k.group(4)),
                              "duration": k.group(5), "line": m.group(2), "source": "scenario.log"})
    manager = [{"t": e["_t"], "unit": e.get("USER_UNIT") or e.get("UNIT"), "message": e["MESSAGE"]}
               for e in journal if e.get("MESSAGE_ID") == MANAGER_OOMD_MSGID]
    kernel_oom = [{"t": e["_t"], "message": e["MESSAGE"]} for e in journal
                  if e.get("_TRANSPORT") == "kernel" and "Out of memory: Killed process" in e["MESSAGE"]]
    res["oomd_kills"] = kills
    res["manager_oomd_entries"] = manager
    res["kernel_oom_kills"] = kernel_oom

    # pressure: max full avg10 of each watched cgroup during the run
    maxfull = {}
    for cg, lim in watched.items():
        s = [x for x in trace.get(cg, []) if not math.isnan(x[1])]
        if s:
            mx = max(s, key=lambda x: x[1])
            maxfull[cg] = {"max_full_avg10": mx[1], "at_s": (mx[0] - t_start) if (t_start and mx[1] > 0) else None,
                           "limit": lim, "over_limit": lim is not None and mx[1] > lim}
    res["max_full_avg10"] = {short(k): v for k, v in maxfull.items()}

    # the first oomd kill: what led to it
    if kills:
        k = kills[0]
        samples = trace.get(k["monitored"], [])
        onset = stall_onset(samples, t_start or 0, k["t"])
        over = next((t for t, full, _, _ in samples
                     if t_start and t >= t_start and t <= k["t"] and full > k["limit"]), None)
        res["first_kill"] = {
            "victim": k["victim"], "monitored": k["monitored"], "line": k["line"],
            "since_pressure_start_s": (k["t"] - t_start) if t_start else None,
            "since_ramp_start_s": (k["t"] - marks["ramp_start"][0]) if marks.get("ramp_start") else None,
            "stall_onset_to_kill_s": (k["t"] - onset) if onset else None,
            "over_limit_to_kill_s": (k["t"] - over) if over else None,
            "manager_entry": next((m for m in manager if m["t"] >= k["t"] - 1), None),
        }

    # the Jellyfin stand-in: did it keep serving?
    # a segment's time is its file's mtime (the logger may itself be stalled), else the entry's
    segs = [float(re.search(r"mtime=([\d.]+)", e["MESSAGE"]).group(1)) if "mtime=" in e["MESSAGE"] else e["_t"]
            for e in journal
            if e.get("_SYSTEMD_USER_UNIT") == "jellyfin.service" and e["MESSAGE"].startswith("segment ")]
    segs.sort()
    if t_start and t_end:
        during = [t for t in segs if t_start <= t <= t_end]
        pts = [t_start] + during + [t_end]
        res["segments"] = {"during_pressure": len(during),
                           "max_gap_s": max(b - a for a, b in zip(pts, pts[1:])),
                           "last_30s": sum(1 for t in during if t >= t_end - 30)}
        # per pressure ramp: segments in its last 30 s (the stand-in still serving at the peak)
        ends = sorted(marks.get("ramp_end", []))
        res["segments"]["per_ramp_last_30s"] = [
            sum(1 for t in segs if r1 - 30 <= t <= r1) for r1 in ends]
    res["jellyfin_restarts"] = sum(1 for e in journal if e.get("_SYSTEMD_USER_UNIT") == "jellyfin.service"
                                   and e["MESSAGE"].startswith("fake-jellyfin: heap")) - 1

    # guardian's own events
    gev = [e for e in journal if "GUARDIAN_EVENT" in e]
    res["guardian_events"] = [{"t": e["_t"], "event": e.get("GUARDIAN_EVENT"), "level": e.get("GUARDIAN_LEVEL"),
                               "action": e.get("GUARDIAN_ACTION"), "result": e.get("GUARDIAN_RESULT"),
                               "message": e["MESSAGE"]} for e in gev]
    # Every climb (a level-changed event to a higher level) and the first action applied after
    # it: the reaction time. guardian's predicted seconds until oomd's kill at that climb, less
    # the reaction, is its lead over oomd's deadline at the moment the action took effect; a
    # climb with no kill on course (pressure below anything that would reach the limit) has a
    # lead of at least oomd's duration and is counted apart.
    reactions, leads, climbs_without_kill_course = [], [], 0
    changes = [e for e in gev if e.get("GUARDIAN_EVENT") == "level-changed"]
    for i, e in enumerate(changes):
        # guardian logs a climb at priority 4 (warning), a step down at 5 (notice)
        if str(e.get("PRIORITY")) != "4":
            continue
        cur = e.get("GUARDIAN_LEVEL")
        until = changes[i + 1]["_t"] if i + 1 < len(changes) else math.inf
        act = next((a for a in gev if a.get("GUARDIAN_EVENT") == "action-applied"
                    and a.get("GUARDIAN_LEVEL") == cur and e["_t"] <= a["_t"] < until), None)
        if not act:
            continue
        reaction = act["_t"] - e["_t"]
        reactions.append(reaction)
        try:
            leads.append(float(e["GUARDIAN_SECONDS_UNTIL_KILL"]) - reaction)
        except (KeyError, ValueError):
            climbs_without_kill_course += 1
    first_act = next((e for e in gev if e.get("GUARDIAN_EVENT") == "action-applied"
                      and t_start and e["_t"] >= t_start), None)
    res["first_action_since_pressure_s"] = (first_act["_t"] - t_start) if first_act else None
    r0 = min(marks.get("ramp_start", [0])) or None
    res["first_action_since_ramp_s"] = (first_act["_t"] - r0) if (first_act and r0) else None
    res["reaction_s"] = {"n": len(reactions), "p50": pct(reactions, 50), "p99": pct(reactions, 99),
                         "all": reactions}
    res["lead_s"] = {"n": len(leads), "min": min(leads) if leads else None, "p50": pct(leads, 50),
                     "all": leads, "climbs_without_kill_course": climbs_without_kill_course}

    # the whole user runs short (issue 10)
    if name.startswith("squeeze-"):
        sq = squeeze_mod.squeeze(out, res, marks, journal, trace, watched, kills, kernel_oom)
        if sq is not None and name == "squeeze-guarded" and a.baseline:
            squeeze_mod.against_baseline(sq, a.baseline, res)
        res["squeeze"] = sq
        # guardian-helper beside the squeeze (run-scenario.sh --helper): its events under pressure
        if sq is not None:
            res["helper_events"] = helper_events_mod.helper_events(out, sq["workload_start"], trace, watched, kills)

    # checks written inside the guest (checks.txt: NAME PASS|FAIL detail)
    checks = []
    cp = os.path.join(out, "checks.txt")
    if os.path.exists(cp):
        for line in open(cp):
            parts = line.rstrip("\n").split(" ", 2)
            if len(parts) >= 2:
                checks.append({"name": parts[0], "ok": parts[1] == "PASS", "detail": parts[2] if len(parts) > 2 else ""})

    # verdict
    def need(cond, why):
        if not cond:
            problems.append(why)

    if name == "baseline":
        need(kills, "systemd-oomd killed nothing")
        need(manager, f"no manager entry with MESSAGE_ID={MANAGER_OOMD_MSGID}")
        if kills and kernel_oom:
            need(kernel_oom[0]["t"] > kills[0]["t"], "the kernel OOM killer fired before systemd-oomd")
    elif name == "guarded":
        need(not kills, f"systemd-oomd killed {len(kills)}x: " + ", ".join(short(k['victim']) for k in kills))
        need(not kernel_oom, f"{len(kernel_oom)} kernel OOM kills")
        need(gev, "no guardian journal events (GUARDIAN_EVENT=)")
        need(any(e.get("GUARDIAN_EVENT") == "action-applied" for e in gev), "guardian applied no action")
        per_ramp = res.get("segments", {}).get("per_ramp_last_30s") or [res.get("segments", {}).get("last_30s", 0)]
        need(all(n > 0 for n in per_ramp),
             f"the Jellyfin stand-in produced no segment in the last 30 s of a pressure ramp ({per_ramp})")
        need(res["jellyfin_restarts"] == 0, f"jellyfin.service restarted {res['jellyfin_restarts']}x")
        over = [short(k) for k, v in maxfull.items() if v["over_limit"]]
        need(not over, "full avg10 over oomd's limit in " + ", ".join(over))
    elif name.startswith("squeeze-"):
        squeeze_mod.verdict(name, res.get("squeeze"), need, facts)
        helper_events_mod.verdict(res.get("helper_events"), bool(kills), need)
    for c in checks:
        need(c["ok"], f"check {c['name']} failed: {c['detail']}")
    if facts.get("scenario_rc") not in (None, "0"):
        problems.append(f"guest scenario script exited {facts.get('scenario_rc')}")
    if facts.get("qemu_rc") == "137":
        problems.append("host-side hard timeout")
    res["checks"] = checks
    res["verdict"] = "FAIL" if problems else "PASS"
    res["reason"] = "; ".join(problems)
    return finish(out, res)


def row(res):
    name, v = res["scenario"], res["verdict"]
    if v == "SKIP":
        return f"| {name} | SKIP ({res.get('reason')}) | – | – | – | – | – | – | – | – |"
    mf = res.get("max_full_avg10", {})
    mfs = ", ".join(f"{k} {x['max_full_avg10']:.1f} ({x['limit']:.0f})" if x['limit'] is not None
                    else f"{k} {x['max_full_avg10']:.1f}" for k, x in sorted(mf.items())) or "–"
    fk = res.get("first_kill") or {}
    onset = fmt_s(fk.get("stall_onset_to_kill_s")) if fk else "–"
    if fk:
        onset += f" (killed {short(fk['victim'])})"
    r = res.get("reaction_s", {})
    react = f"{fmt_s(r.get('p50'))} / {fmt_s(r.get('p99'))} (n={r.get('n')})" if r.get("n") else "–"
    lead = res.get("lead_s", {})
    leads = (f"min {lead['min']:.1f} s, p50 {lead['p50']:.1f} s (n={lead['n']})"
             if lead.get("min") is not None else "–")
    if lead.get("climbs_without_kill_course"):
        leads += f"; {lead['climbs_without_kill_course']} climb(s) with no kill on course"
    seg = res.get("segments")
    segs = f"{seg['during_pressure']} (max gap {seg['max_gap_s']:.0f} s)" if seg else "–"
    wall = res.get("facts", {}).get("host_wall_s")
    return (f"| {name} | {v} | {len(res.get('oomd_kills', []))} | {len(res.get('kernel_oom_kills', []))} | "
            f"{mfs} | {onset} | {react} | {leads} | {segs} | {wall + ' s' if wall else '–'} |")


def finish(out, res):
    line = f"{res['scenario']}: {res['verdict']}" + (f" — {res['reason']}" if res.get("reason") else "")
    fk = res.get("first_kill")
    if fk and res["verdict"] != "SKIP":
        line += (f" — oomd killed {short(fk['victim'])} (watching {short(fk['monitored'])}) "
                 f"{fmt_s(fk['stall_onset_to_kill_s'])} after stall onset")
    bars = squeeze_mod.bar_lines(res.get("squeeze")) if res["verdict"] != "SKIP" else []
    if bars:
        line += "\n" + "\n".join("  " + b for b in bars)
    res["verdict_line"] = line
    res["table_row"] = row(res)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump(res, f, indent=2, default=str)
    with open(os.path.join(out, "result.md"), "w") as f:
        f.write(line + "\n\n" + TABLE_HEADER + "\n" + res["table_row"] + "\n")
        if fk:
            f.write(f"\noomd: `{fk['line']}`\n")
            me = fk.get("manager_entry")
            if me:
                f.write(f"\nmanager ({MANAGER_OOMD_MSGID}): `{me['unit']}: {me['message']}`\n")
    print(line)
    return 0 if res["verdict"] in ("PASS", "SKIP") else 1


if __name__ == "__main__":
    sys.exit(main())
