#!/usr/bin/env python3
"""A real Prometheus scrapes a real `guardian run --dry-run`; every PromQL expression of the
dashboards and rules must be valid and return data.

1. Copies the fixture host root (tests/fixtures/fedora42-podman: a Fedora 42 desktop with
   rootless podman) to a temp dir and keeps rewriting memory.pressure / memory.current there,
   as the kernel would, while the test runs.
2. Starts `guardian run --dry-run --host-root COPY --policy P` with P = the default policy with
   [metrics] listen on a free 127.0.0.1 port; checks one scrape with `promtool check metrics`.
3. Starts Debian's `prometheus` on another free 127.0.0.1 port, storage in the temp dir, scraping
   guardian every second and loading prometheus/guardian.rules.yml; waits for the first scrapes
   through /api/v1/targets and /api/v1/query (no fixed sleep).
4. Sends every expression (dashboard panels, annotations, variable queries; recording and
   alerting rules) to /api/v1/query with the dashboard variables substituted
   ($instance = guardian's target, $cgroup = .+, $__rate_interval = 10s, $__range = 5m, the
   constants $containers/$jellyfin from the dashboards).
   - Panels, variable queries and recording rules must return data.
   - Alert expressions and annotations are filters ("… > 0"): they must be valid, and every
     series selector in them must return data (whether they fire is promtool's job:
     prometheus/tests/guardian.rules.test.yml).
   A metric missing from guardian's /metrics only counts as "not fed" when it is listed in
   NOT_FED with the reason (a producer that has nothing to read on this host); anything else
   without data fails.

Usage: prometheus_test.py --guardian BUILD/guardian/guardian --source REPO [--keep]
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

FIXTURE = "fedora42-podman"
SKIP = 77  # ctest SKIP_RETURN_CODE: a prerequisite from another part of guardian has not landed
USER_MANAGER = "sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service"

# Metrics whose producer has nothing to read in this test, and why. Only consulted when the
# metric is absent from guardian's scrape: once a producer exports it, it is checked like the rest.
NOT_FED = {
    "guardian_jellyfin_transcodes": "no Jellyfin server in this test (the transcode view needs Jellyfin's /Sessions)",
    "guardian_jellyfin_transcode_memory_bytes": "no Jellyfin server in this test",
    "guardian_unit_restarts_total": "no systemd user manager on this host (NRestarts comes from it over D-Bus)",
    "guardian_vaapi_available": "the VA-API probe has not run (no /dev/dri on this host)",
}

PROMQL_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless",
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "group",
    "inf", "nan", "atan2",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def query(prom: str, expr: str) -> dict:
    url = f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        return json.loads(http_get(url))
    except urllib.error.HTTPError as e:  # 400/422: invalid expression, with Prometheus's reason
        return json.loads(e.read() or b"{}") or {"status": "error", "error": str(e)}


def wait_for(what: str, predicate, timeout: float, procs=()) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in procs:
            if proc.poll() is not None:
                raise SystemExit(f"FAIL: {name} exited with {proc.returncode} while waiting for {what}")
        try:
            if predicate():
                return
        # LookupError: an empty result (IndexError) or a missing key. /api/v1/targets may show the
        # target up before the scrape's sample is queryable, so "no sample yet" means "not yet".
        except (OSError, ValueError, LookupError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"FAIL: timed out after {timeout:.0f} s waiting for {what}")


# ---------------------------------------------------------------------------------------------
# The fixture, changing while guardian reads it.

def psi_text(some10, some60, some300, some_total, full10, full60, full300, full_total) -> str:
    # Exactly the kernel's format (kernel/sched/psi.c psi_show: "%s avg10=%lu.%02lu avg60=… total=%llu").
    return (f"some avg10={some10:.2f} avg60={some60:.2f} avg300={some300:.2f} total={some_total}\n"
            f"full avg10={full10:.2f} avg60={full60:.2f} avg300={full300:.2f} total={full_total}\n")


def add_jellyfin(manager: pathlib.Path) -> pathlib.Path:
    """The incident's Jellyfin is a quadlet unit, jellyfin.service, with MemoryHigh=3G and
    MemoryMax=4G (seed 002); podman (>= 4.4, quadlet's --cgroups=split) runs the container in
    jellyfin.service/libpod-payload-<id> beside conmon in …/runtime. The fixture's containers are
    bare libpod scopes, so the copy gets this layout, its files copied from a fixture container."""
    source = next((manager / "user.slice").glob("libpod-*.scope"))
    service = manager / "app.slice" / "jellyfin.service"
    shutil.copytree(source, service)
    (service / "memory.high").write_text(f"{3 << 30}\n")
    (service / "memory.max").write_text(f"{4 << 30}\n")
    (service / "memory.current").write_text("1181116006\n")  # 1.1 GB: the seed's 17:45 snapshot
    payload = service / ("libpod-payload-" + source.name[len("libpod-"):-len(".scope")])
    shutil.copytree(source, payload, ignore=shutil.ignore_patterns("libpod-payload-*"))
    (payload / "memory.current").write_text("1160000000\n")
    return service


class FixtureWriter(threading.Thread):
    """Every 0.5 s: full pressure in the watched slices climbs toward oomd's 80% and falls back
    (a transcode starting and ending), totals grow as the kernel's do, memory.current follows."""

    def __init__(self, root: pathlib.Path, jellyfin: pathlib.Path):
        super().__init__(daemon=True)
        self.root, self.jellyfin = root, jellyfin
        self.stop = threading.Event()
        self.manager = root / USER_MANAGER
        self.cgroups = [self.manager / "app.slice", self.manager / "user.slice", jellyfin]
        self.totals = {}
        self.writes = 0

    def run(self) -> None:
        step = 0
        while not self.stop.is_set():
            phase = (step % 60) / 60.0  # one 30 s wave
            full10 = 85.0 * (phase * 2 if phase < 0.5 else (1 - phase) * 2)
            for i, cgroup in enumerate(self.cgroups):
                some_total, full_total = self.totals.get(cgroup, (1_000_000 * (i + 1), 400_000 * (i + 1)))
                some_total += int(500_000 * (full10 / 100 + 0.1))  # µs stalled in the last 0.5 s
                full_total += int(500_000 * full10 / 100)
                self.totals[cgroup] = (some_total, full_total)
                f = full10 if cgroup != self.manager / "user.slice" else full10 / 2
                (cgroup / "memory.pressure").write_text(
                    psi_text(min(f * 1.2 + 5, 100), f * 0.8 + 3, f * 0.3 + 1, some_total, f, f * 0.7, f * 0.25, full_total))
                current = int((1.1 + 1.8 * full10 / 85) * 1e9) if cgroup == self.jellyfin else int((3.3 + i) * 1e9 + step * 4096)
                (cgroup / "memory.current").write_text(f"{current}\n")
            sys_total = self.totals[self.cgroups[0]]
            (self.root / "proc/pressure/memory").write_text(
                psi_text(full10 / 2 + 2, full10 / 3 + 1, 1.0, sys_total[0] * 2, full10 / 4, full10 / 5, 0.5, sys_total[1]))
            self.writes += 1
            step += 1
            self.stop.wait(0.5)


# ---------------------------------------------------------------------------------------------
# The expressions.

def collect_expressions(source: pathlib.Path):
    """(where, kind, expr, constants) for every PromQL expression; kind: panel | variable |
    annotation | record | alert."""
    found = []
    for path in sorted((source / "grafana/dashboards").glob("*.json")):
        d = json.loads(path.read_text())
        variables = d.get("templating", {}).get("list", [])
        constants = {v["name"]: v["query"] for v in variables if v.get("type") == "constant"}
        for v in variables:
            if v.get("type") != "query":
                continue
            q = v["query"]["query"] if isinstance(v.get("query"), dict) else v.get("query", "")
            m = re.fullmatch(r"\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*", q)
            # label_values(SELECTOR, LABEL) asks Prometheus for SELECTOR's series: query SELECTOR.
            found.append((f"{path.name} variable ${v['name']}", "variable", m.group(1) if m else q, constants))
        for a in d.get("annotations", {}).get("list", []):
            if a.get("expr"):
                found.append((f"{path.name} annotation {a['name']!r}", "annotation", a["expr"], constants))
        for p in d.get("panels", []):
            for t in p.get("targets", []):
                found.append((f"{path.name} panel {p['id']} {p['title']!r} {t['refId']}", "panel", t["expr"], constants))
    rules = source / "prometheus/guardian.rules.yml"
    # The rules file is YAML; its expressions are the `expr:` scalars (plain or folded `>-`).
    lines = rules.read_text().splitlines()
    name = None
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"\s*-\s*(record|alert):\s*(\S+)", line)
        if m:
            kind, name = m.group(1), m.group(2)
        m = re.match(r"(\s*)expr:\s*(.*)$", line)
        if m:
            indent, value = len(m.group(1)), m.group(2)
            if value in (">-", ">", "|", "|-"):
                block = []
                i += 1
                while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                    block.append(lines[i].strip())
                    i += 1
                value = " ".join(b for b in block if b)
                i -= 1
            found.append((f"guardian.rules.yml {kind} {name}", kind, value, {}))
        i += 1
    return found


def substitute(expr: str, instance: str, constants: dict) -> str:
    # As Grafana formats a regex variable for Prometheus: specials escaped, and the backslash
    # doubled for PromQL's double-quoted string.
    values = {"instance": re.escape(instance).replace("\\", "\\\\"), "cgroup": ".+", "__rate_interval": "10s", "__range": "5m",
              "__interval": "1s"}
    for name, value in constants.items():
        values[name] = value.replace("\\", "\\\\")  # inside a PromQL string literal
    def repl(m):
        name = m.group(1) or m.group(2)
        if name not in values:
            raise SystemExit(f"FAIL: unknown variable ${name} in {expr}")
        return values[name]
    return re.sub(r"\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*)", repl, expr)


def selectors(expr: str) -> list[str]:
    """The series selectors in an expression (metric name with its {…} matchers)."""
    # String literals first (a regex such as "[^/]+[.]slice" holds brackets and braces).
    strings = []
    def hide(m):
        strings.append(m.group(0))
        return f'"\x00{len(strings) - 1}\x00"'
    text = re.sub(r'"(?:[^"\\]|\\.)*"|`[^`]*`', hide, expr)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)             # range/subquery durations
    text = re.sub(r"\boffset\s+\S+", " ", text)
    out = []
    for m in re.finditer(r"([A-Za-z_:][A-Za-z0-9_:]*)?\s*(\{[^}]*\})?", text):
        name, matchers = m.group(1), m.group(2)
        if not name and not matchers:
            continue
        if name and (name.lower() in PROMQL_KEYWORDS or text[m.end():].lstrip().startswith("(")):
            continue
        if name and re.fullmatch(r"\d.*", name):
            continue
        selector = (name or "") + (matchers or "")
        out.append(re.sub(r'"\x00(\d+)\x00"', lambda n: strings[int(n.group(1))], selector))
    return out


def metric_name(selector: str) -> str:
    m = re.match(r"([A-Za-z_:][A-Za-z0-9_:]*)", selector)
    if m:
        return m.group(1)
    m = re.search(r"__name__\s*=\s*\"([^\"]+)\"", selector)
    return m.group(1) if m else selector


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--guardian", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args()
    source = pathlib.Path(args.source).resolve()
    for tool in ("prometheus", "promtool"):
        if not shutil.which(tool):
            print(f"FAIL: {tool} not installed (Debian package prometheus)")
            return 1

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="guardian-prom-"))
    procs = []
    writer = None
    try:
        root = tmp / "root"
        fixture = source / "tests/fixtures" / FIXTURE
        if not fixture.is_dir():
            print(f"SKIP: fixture {fixture} missing (it comes with the sense stage)")
            return SKIP
        shutil.copytree(fixture, root, symlinks=True)
        jellyfin = add_jellyfin(root / USER_MANAGER)
        writer = FixtureWriter(root, jellyfin)
        writer.start()

        metrics_port, prom_port = free_port(), free_port()
        listen = f"127.0.0.1:{metrics_port}"
        policy = (source / "policies/default.toml").read_text()
        policy, n = re.subn(r'(?m)^listen\s*=\s*"[^"]*"', f'listen = "{listen}"', policy)
        if n != 1:
            policy += f'\n[metrics]\nlisten = "{listen}"\n'
        (tmp / "policy.toml").write_text(policy)

        probe = subprocess.run([args.guardian, "run", "--help"], capture_output=True, text=True)
        if "not built yet" in probe.stdout + probe.stderr:
            print("SKIP: `guardian run` is not built yet")
            return SKIP

        guardian_log = open(tmp / "guardian.log", "wb")
        guardian = subprocess.Popen(
            # The fixture is uid 1000's desktop; the test may run as anyone (CI: root).
            [args.guardian, "run", "--dry-run", "--host-root", str(root), "--uid", "1000", "--policy",
             str(tmp / "policy.toml")],
            stdout=guardian_log, stderr=subprocess.STDOUT, env=dict(os.environ, XDG_STATE_HOME=str(tmp / "state")))
        procs.append(("guardian", guardian))
        try:
            wait_for(f"guardian's /metrics on {listen}", lambda: b"guardian_build_info" in http_get(f"http://{listen}/metrics"),
                     30, procs)
        except SystemExit:
            print((tmp / "guardian.log").read_text(errors="replace")[-3000:])
            raise

        # promtool check metrics on a live scrape: clean means no output at all.
        body = http_get(f"http://{listen}/metrics")
        lint = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
        if lint.returncode != 0 or lint.stdout.strip() or lint.stderr.strip():
            print("FAIL: promtool check metrics:\n" + (lint.stdout + lint.stderr).decode())
            return 1
        lines = body.count(b"\n")
        print(f"ok: promtool check metrics clean ({len(body)} bytes, {lines} lines)")
        exported = {line.split(b"{")[0].split(b" ")[0].decode() for line in body.splitlines() if line and not line.startswith(b"#")}

        config = tmp / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"rule_files:\n  - {source / 'prometheus/guardian.rules.yml'}\n"
            "scrape_configs:\n  - job_name: guardian\n    static_configs:\n"
            f"      - targets: ['{listen}']\n")
        prom_log = open(tmp / "prometheus.log", "wb")
        prometheus = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}",
             f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
            stdout=prom_log, stderr=subprocess.STDOUT)
        procs.append(("prometheus", prometheus))
        prom = f"http://127.0.0.1:{prom_port}"

        def target_up():
            targets = json.loads(http_get(f"{prom}/api/v1/targets"))["data"]["activeTargets"]
            return any(t["health"] == "up" and t["labels"]["instance"] == listen for t in targets)
        wait_for("Prometheus's first successful scrape of guardian", target_up, 60, procs)
        # rate()/increase() over 10s and the rules' evaluations need a few samples, not one.
        wait_for("12 scrapes of guardian",
                 lambda: float(query(prom, f'count_over_time(up{{job="guardian"}}[1m])')["data"]["result"][0]["value"][1]) >= 12,
                 60, procs)
        wait_for("the recording rules' first results",
                 lambda: query(prom, "guardian:oomd_limit_fraction:full_avg10")["data"]["result"], 30, procs)

        failures, skipped, passed = [], [], 0
        expressions = collect_expressions(source)
        recorded = {where.rsplit(" ", 1)[1]: raw for where, kind, raw, _ in expressions if kind == "record"}
        for where, kind, raw, constants in expressions:
            expr = substitute(raw, listen, constants)
            answer = query(prom, expr)
            if answer.get("status") != "success":
                failures.append(f"{where}: invalid: {answer.get('error')}\n    {expr}")
                continue
            if kind in ("panel", "variable", "record"):
                if answer["data"]["result"]:
                    passed += 1
                    continue
                missing = [s for s in selectors(expr) if not query(prom, s).get("data", {}).get("result")]
            else:
                missing = [s for s in selectors(expr) if not query(prom, s).get("data", {}).get("result")]
                if not missing:
                    passed += 1
                    continue
            # A recorded series (guardian:…) is as fed as the metrics its rule reads.
            def sources(selector, depth=0):
                name = metric_name(selector)
                if name in recorded and depth < 5:
                    return [m for inner in selectors(recorded[name]) for m in sources(inner, depth + 1)]
                return [name]
            names = [m for s in missing for m in sources(s)]
            unfed = [m for m in names if m in NOT_FED and m not in exported]
            if missing and len(unfed) == len(names):
                skipped.append(f"{where}: {NOT_FED[unfed[0]]}")
            else:
                failures.append(f"{where}: no data" + (f" (no series for {', '.join(missing)})" if missing else "")
                                + f"\n    {expr}")

        for s in skipped:
            print(f"not fed: {s}")
        for f in failures:
            print(f"FAIL: {f}")
        print(f"{passed} expressions returned data, {len(skipped)} not fed here, {len(failures)} failed "
              f"(fixture rewritten {writer.writes} times)")
        return 1 if failures else 0
    finally:
        if writer:
            writer.stop.set()
        for name, proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
