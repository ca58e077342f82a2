#!/usr/bin/env python3
"""Checks guardian's Grafana dashboards beyond what Grafana's schema says.

Every panel: a Prometheus datasource (the panel's and each query's, through $datasource), a
unit, an id unique in the dashboard, a gridPos inside the 24 columns that overlaps no other
panel, a title and description, and queries with a unique refId and a non-empty expr. Every
dashboard: the $instance variable, $cgroup wherever a query uses it, only variables it defines,
and the OOM-kill annotation. Every time-series panel that shows a memory pressure ratio of
oomd-watched cgroups draws oomd's limit as a threshold line (a guardian_oomd_limit_ratio query
with a dashed override).

Usage: check_dashboards.py DASHBOARD_DIR   (exit 1 with one "FILE: panel N: problem" per line)
"""
import json
import pathlib
import re
import sys

GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__range", "__range_s", "__from", "__to", "__dashboard"}
VAR_RE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def overlaps(a, b):
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


def check(path: pathlib.Path) -> list[str]:
    problems = []
    try:
        dashboard = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        return [f"{path}:{e.lineno}:{e.colno}: not JSON: {e.msg}"]

    def problem(where, message):
        problems.append(f"{path.name}: {where}: {message}")

    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    if "instance" not in variables:
        problem("templating", "no $instance variable")
    if variables.get("datasource", {}).get("type") != "datasource":
        problem("templating", "no $datasource variable of type datasource")
    for key in ("uid", "title", "schemaVersion"):
        if not dashboard.get(key):
            problem("dashboard", f"no {key}")
    annotations = dashboard.get("annotations", {}).get("list", [])
    if not any("guardian_oom_kills_total" in a.get("expr", "") for a in annotations):
        problem("annotations", "no OOM-kill annotation (guardian_oom_kills_total)")

    used_vars = set()
    for a in annotations:
        used_vars.update(VAR_RE.findall(a.get("expr", "")))
    for v in variables.values():
        query = v.get("query")
        used_vars.update(VAR_RE.findall(query.get("query", "") if isinstance(query, dict) else str(query or "")))

    ids = {}
    placed = []
    for index, panel in enumerate(dashboard.get("panels", [])):
        where = f"panel {panel.get('id', f'#{index}')} ({panel.get('title', '?')})"
        if panel.get("type") == "row":
            problem(where, "row panels are not used: they hide panels from the checks")
            continue
        pid = panel.get("id")
        if not isinstance(pid, int):
            problem(where, "no integer id")
        elif pid in ids:
            problem(where, f"id {pid} also used by {ids[pid]}")
        else:
            ids[pid] = panel.get("title")
        if not panel.get("title"):
            problem(where, "no title")
        if not panel.get("description"):
            problem(where, "no description")
        ds = panel.get("datasource") or {}
        if ds.get("type") != "prometheus" or ds.get("uid") != "${datasource}":
            problem(where, f"datasource is {ds!r}, expected prometheus through ${{datasource}}")
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        if not unit:
            problem(where, "no unit (fieldConfig.defaults.unit)")
        grid = panel.get("gridPos")
        if not grid or any(not isinstance(grid.get(k), int) for k in ("x", "y", "w", "h")):
            problem(where, f"gridPos {grid!r} incomplete")
        else:
            if grid["x"] < 0 or grid["y"] < 0 or grid["w"] <= 0 or grid["h"] <= 0 or grid["x"] + grid["w"] > 24:
                problem(where, f"gridPos {grid} outside the 24-column grid")
            for other_where, other in placed:
                if overlaps(grid, other):
                    problem(where, f"gridPos {grid} overlaps {other_where} {other}")
            placed.append((where, grid))
        targets = panel.get("targets") or []
        if not targets:
            problem(where, "no queries")
        refids = set()
        exprs = []
        for target in targets:
            tds = target.get("datasource") or {}
            if tds.get("type") != "prometheus" or tds.get("uid") != "${datasource}":
                problem(where, f"query {target.get('refId')}: datasource {tds!r}")
            if target.get("refId") in refids:
                problem(where, f"refId {target.get('refId')} twice")
            refids.add(target.get("refId"))
            expr = target.get("expr", "")
            if not expr.strip():
                problem(where, f"query {target.get('refId')}: empty expr")
            if "instance=~\"$instance\"" not in expr and "$instance" not in expr:
                problem(where, f"query {target.get('refId')}: does not filter on $instance")
            exprs.append(expr)
            used_vars.update(VAR_RE.findall(expr))
        used_vars.update(VAR_RE.findall(panel.get("title", "")))
        # Pressure of oomd-watched cgroups on a time axis: oomd's limit must be drawn with it.
        shows_pressure = any(re.search(r"guardian_pressure_memory_(some|full)_ratio", e) for e in exprs)
        if panel.get("type") == "timeseries" and shows_pressure and "cgroup=\"/\"" not in " ".join(exprs):
            limit_queries = [e for e in exprs if "guardian_oomd_limit_ratio" in e and "pressure" not in e]
            dashed = [o for o in panel.get("fieldConfig", {}).get("overrides", [])
                      if any(p.get("id") == "custom.lineStyle" and p.get("value", {}).get("fill") == "dash"
                             for p in o.get("properties", []))]
            # A panel that shows pressure already divided by the limit draws the limit (1.0)
            # as a dashed threshold instead.
            custom = panel.get("fieldConfig", {}).get("defaults", {}).get("custom", {})
            steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
            normalized = (any(re.search(r"/\s*on\s*\([^)]*\)\s*(group_left\s*)?guardian_oomd_limit_ratio", e) for e in exprs)
                          and custom.get("thresholdsStyle", {}).get("mode") in ("dashed", "line+area", "dashed+area", "line")
                          and any(s.get("value") == 1 for s in steps))
            if not normalized and (not limit_queries or not dashed):
                problem(where, "shows memory pressure but does not draw oomd's limit as a dashed threshold line")

    for name in sorted(used_vars - GRAFANA_BUILTINS):
        if name not in variables:
            problem("templating", f"${name} is used but not defined")
    if "cgroup" in used_vars and "cgroup" not in variables:
        problem("templating", "no $cgroup variable")
    return problems


def main() -> int:
    directory = pathlib.Path(sys.argv[1])
    files = sorted(directory.glob("*.json"))
    if not files:
        print(f"{directory}: no dashboards", file=sys.stderr)
        return 1
    problems = [p for f in files for p in check(f)]
    for p in problems:
        print(p, file=sys.stderr)
    print(f"check_dashboards: {len(files)} dashboards, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
