#!/usr/bin/env python3
"""Summary table of VM test-bed runs: summarize.py [--wall SECONDS] RESULT_DIR... > summary.md

Reads each RESULT_DIR/result.json (written by analyze.py) and prints markdown: the table, the
baseline's kill timing over its runs, and guardian's lead over the baseline's kill.
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from analyze import TABLE_HEADER, fmt_s  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--wall", type=int)
ap.add_argument("dirs", nargs="+")
a = ap.parse_args()

def mib(v):
    try:
        return f"{int(v) >> 20} MiB"
    except (TypeError, ValueError):
        return str(v or "?")


results = []
for d in a.dirs:
    p = os.path.join(d, "result.json")
    if os.path.exists(p):
        results.append(json.load(open(p)))
        results[-1]["_dir"] = d
    else:
        results.append({"scenario": os.path.basename(d), "verdict": "FAIL", "reason": "no result.json",
                        "table_row": f"| {os.path.basename(d)} | FAIL (no result.json) | – | – | – | – | – | – | – | – |"})

print("# VM test bed summary\n")
facts = next((r.get("facts") for r in results if r.get("facts")), {}) or {}
# The oomd rule of the runs' images (build-image.sh --oomd-profile): each run's facts say which.
PROFILES = {"fedora": "Fedora's oomd profile (every user slice 80% full avg10",
            "debian": "Debian's oomd profile (user@.service 50% full avg10"}
profiles = sorted({(r.get("facts") or {}).get("oomd_profile", "fedora") for r in results if r.get("facts")}) or ["fedora"]
print(f"qemu TCG, 2 vCPU, 2 GiB, no swap; Debian 12 (systemd 252) with "
      + " / ".join(PROFILES.get(p, p + "'s oomd profile (") + f", duration "
                   f"{next((r.get('oomd_duration_s') for r in results if r.get('oomd_duration_s')), '?')} s)"
                   for p in profiles) + ". "
      f"container.slice MemoryHigh {mib(facts.get('container_memory_high'))} / MemoryMax "
      f"{mib(facts.get('container_memory_max'))}"
      + (f"; MemoryHigh on user@1000.service {facts['user_memory_high_mb']} MiB" if facts.get('user_memory_high_mb') else "")
      + ". "
      f"Image {facts.get('image', '?')} (built in {facts.get('image_build_seconds', '?')} s).\n")
print(TABLE_HEADER)
for r in results:
    print(r.get("table_row", ""))
print()

base = [r for r in results if r.get("scenario") == "baseline" and r.get("first_kill")]
if base:
    kills = [r["first_kill"]["since_ramp_start_s"] for r in base if r["first_kill"].get("since_ramp_start_s")]
    onset = [r["first_kill"]["stall_onset_to_kill_s"] for r in base if r["first_kill"].get("stall_onset_to_kill_s")]
    over = [r["first_kill"]["over_limit_to_kill_s"] for r in base if r["first_kill"].get("over_limit_to_kill_s")]
    boots = [float(r["facts"]["userspace_ready_uptime_s"]) for r in results
             if r.get("facts", {}).get("userspace_ready_uptime_s")]
    victims = sorted({r["first_kill"]["victim"].split("/")[-1] for r in base})
    print(f"- baseline: oomd killed in {len(base)} of {sum(1 for r in results if r.get('scenario') == 'baseline')} runs "
          f"(victims: {', '.join(victims)}); ramp start → kill "
          + ", ".join(f"{x:.0f} s" for x in kills)
          + (f"; stall onset → kill " + ", ".join(f"{x:.0f} s" for x in onset) if onset else "")
          + (f"; full avg10 first over the limit → kill " + ", ".join(f"{x:.0f} s" for x in over) if over else ""))
    for r in base:
        print(f"  - `{r['first_kill']['line']}`")
    if boots:
        print(f"- boot to the scenario runner (guest uptime): " + ", ".join(f"{x:.0f} s" for x in boots))
    if kills:
        ref = statistics.median(kills)
        for r in results:
            if r.get("scenario") != "guarded":
                continue
            ev = [e for e in r.get("guardian_events", []) if e.get("event") == "action-applied"]
            t0 = None
            # first action relative to the first ramp, from the run's own marks
            if ev and r.get("first_action_since_ramp_s") is not None:
                t0 = r["first_action_since_ramp_s"]
            if t0 is not None:
                print(f"- {os.path.basename(r.get('_dir', 'guarded'))}: first action {t0:.1f} s after the first ramp started; "
                      f"baseline's median kill came {ref:.0f} s after its ramp started → lead ≈ {ref - t0:.0f} s over oomd's kill")
# guardian's reaction (climb -> first action) and lead (predicted seconds until oomd's kill at
# the moment the action took effect), pooled over every run that has them.
from analyze import pct  # noqa: E402
reactions = [x for r in results for x in r.get("reaction_s", {}).get("all", [])]
leads = [x for r in results for x in r.get("lead_s", {}).get("all", [])]
no_course = sum(r.get("lead_s", {}).get("climbs_without_kill_course", 0) for r in results)
if reactions:
    print(f"- guardian, pooled over {sum(1 for r in results if r.get('reaction_s', {}).get('n'))} run(s): "
          f"reaction (climb → first action applied) p50 {fmt_s(pct(reactions, 50))}, p99 "
          f"{fmt_s(pct(reactions, 99))}, n={len(reactions)}"
          + (f"; lead over oomd's predicted deadline min {min(leads):.1f} s, p50 {pct(leads, 50):.1f} s, "
             f"n={len(leads)}" if leads else "")
          + (f"; {no_course} climb(s) with no kill on course yet (lead ≥ oomd's duration)" if no_course else ""))
# The whole user runs short (issue 10): its own table, guarded runs set against the baselines of
# the same oomd profile and workload parameters.
sq_runs = [r for r in results if r.get("squeeze")]
if sq_runs:
    import squeeze as sqm  # noqa: E402

    def key(r):
        return sqm.run_key(r)

    base_kills, base_onsets = {}, {}
    for r in sq_runs:
        rel = r["squeeze"].get("after_budget_reached_s") or {}
        if r["scenario"] == "squeeze-baseline":
            if rel.get("first_kill") is not None:
                base_kills.setdefault(key(r), []).append(rel["first_kill"])
            if rel.get("pressure_onset") is not None:
                base_onsets.setdefault(key(r), []).append(rel["pressure_onset"])

    def s1(x):
        return "–" if x is None else f"{x:.0f}"

    print("\n## The whole user runs short (squeeze)\n")
    print("Seconds after the user's memory first reached its budget (the moment it ran short; the "
          "emulated desktop gets there sooner or later with the host's load). Pressure onset: the "
          f"first second an oomd-watched cgroup was fully stalled ≥ {sqm.ONSET_SHARE:.0%} of the time. "
          "Tick lateness: how late guardian's loop read each expiry of its 1-s timer between the "
          "workload's start and the first kill (p50 / p99 / max).\n")
    print("| run | oomd profile | workload | verdict | budget reached (s after start) | oomd kills (victim at s) | "
          "kernel OOM | pressure onset (baseline) | container.slice onset | first climb | climb before the "
          "baseline's kill | guardian's last tick / end | tick lateness p50 / p99 / max | loop thread under "
          "pressure | majflt | VmLck | host load mean / max |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in sq_runs:
        q = r["squeeze"]
        k = key(r)
        rel = q.get("after_budget_reached_s") or {}
        b = q.get("budget_reached_s") or 0.0
        guarded = r["scenario"] != "squeeze-baseline"
        bk = statistics.median(base_kills[k]) if base_kills.get(k) else None
        bo = statistics.median(base_onsets[k]) if base_onsets.get(k) else None
        kills = ", ".join(f"{x['victim'].split('/')[-1]} at {x['at_s'] - b:.0f}" for x in q.get("oomd_kills", [])) or "0"
        fc = q.get("first_climb")
        climb = f"{fc['level']} at {rel.get('first_climb'):.0f}" if fc and rel.get("first_climb") is not None else "–"
        lead = f"{bk - rel['first_climb']:.0f} s" if (guarded and bk is not None and rel.get("first_climb") is not None) else "–"
        tl = q.get("tick_lateness")
        tls = f"{tl['p50']:.1f} / {tl['p99']:.1f} / {tl['max']:.1f} s" if tl else "–"
        end = []
        if q.get("last_tick_s") is not None:
            end.append(f"last tick {q['last_tick_s'] - b:.0f}")
        for u in q.get("guardian_unit_problems", []):
            if "Watchdog" in u["message"]:
                end.append(f"watchdog {u['at_s'] - b:.0f}")
                break
        lp = q.get("loop") or {}
        where = "; ".join(f"{w[0]} {w[2]:.0f}%" for w in (lp.get("where") or [])[:3]) or "–"
        f = r.get("facts") or {}
        load = f"{f['host_load_mean']} / {f['host_load_max']}" if f.get("host_load_mean") else "–"
        onset = s1(rel.get("pressure_onset")) + (f" ({s1(bo)})" if guarded and bo is not None else "")
        print(f"| {os.path.basename(r.get('_dir', r['scenario']))} | {k[0]} | {k[1]} | {r['verdict']} | "
              f"{s1(q.get('budget_reached_s'))} | {kills} | {len(q.get('kernel_oom_kills', []))} | {onset} | "
              f"{s1(rel.get('container_slice_onset'))} | {climb} | {lead} | {', '.join(end) or '–'} | {tls} | "
              f"{where} | {lp.get('main_majflt', '–')} | {q.get('guardian_vmlck_kb_max', '–')} | {load} |")
    print()
    for r in sq_runs:
        ap = r["squeeze"].get("approach")
        b = r["squeeze"].get("budget_reached_s")
        rel = r["squeeze"].get("after_budget_reached_s") or {}
        if ap and b is not None:
            kill = rel.get("first_kill")
            print(f"- {os.path.basename(r.get('_dir', r['scenario']))}: approach signals, s from the user reaching its "
                  f"budget (negative: before){'; oomd killed at ' + format(kill, '.0f') if kill is not None else ''}: "
                  + "; ".join(f"{k} {v - b:+.0f}" for k, v in ap.items()))
    print()
fails = [r for r in results if r.get("verdict") == "FAIL"]
for r in fails:
    print(f"- {r['scenario']} FAIL: {r.get('reason', '')}")
if a.wall:
    print(f"\nTotal wall time: {a.wall} s ({a.wall / 60:.1f} min).")
