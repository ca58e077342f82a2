#!/usr/bin/env bash
# What guardian-helper costs on this machine (README, "guardian-helper"): its RSS and PSS with the
# probes loaded and one client connected, and its CPU per relayed event over a burst of execs of a
# program named ffprobe (a copy of true: exec + exit = two events each), in a throwaway cgroup2
# tree that stands in for /user.slice (as the tests/bpf tests do; nothing is limited, and
# /sys/fs/cgroup/memory is never touched). The helper's own "stopping:" line gives CPU per record.
# Usage: tests/helper/bench_cost.sh [BUILD_DIR] [EXECS]     (root)
set -euo pipefail
build=${1:-build}
execs=${2:-2000}
helper=$build/guardian/helper/guardian-helper
[[ -x $helper ]] || { echo "no $helper (build with GUARDIAN_HELPER=ON)" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "needs root" >&2; exit 2; }
if [[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]]; then mount=/sys/fs/cgroup; else mount=/sys/fs/cgroup/unified; fi
base=/guardian-bench-$$
app=$mount$base/user.slice/user-1000.slice/user@1000.service/app.slice
work=$(mktemp -d)
cleanup() {
  if [[ -n ${hpid:-} ]]; then kill "$hpid" 2>/dev/null || true; wait "$hpid" 2>/dev/null || true; fi
  if [[ -n ${cpid:-} ]]; then kill "$cpid" 2>/dev/null || true; fi
  for _ in 1 2 3 4 5; do  # a cgroup whose last task just exited can be busy for a moment
    for d in "$app" "${app%/app.slice}" "${app%/user@1000.service/app.slice}" "$mount$base/user.slice" "$mount$base"; do
      rmdir "$d" 2>/dev/null || true
    done
    [[ -d $mount$base ]] || break
    sleep 0.2
  done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$app"
"$helper" --cgroup-root "$mount" --scope "$base/user.slice" --socket "$work/helper.sock" --no-prekill 2>"$work/helper.log" &
hpid=$!
for _ in $(seq 300); do [[ -S $work/helper.sock ]] && break; sleep 0.1; done
# The client counts lines and, for each exec event, how long after the kernel's exec (ts=,
# CLOCK_MONOTONIC) it had the line.
python3 -c '
import re, socket, statistics, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); n = 0; buf = b""; lat = []
while True:
    d = s.recv(65536)
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    if not d: break
    buf += d
    *done, buf = buf.split(b"\n")
    for line in done:
        n += 1
        m = re.match(rb"exec ts=(\d+) ", line)
        if m: lat.append((now - int(m.group(1))) / 1e6)
    if lat:
        q = statistics.quantiles(lat, n=100) if len(lat) > 1 else lat * 99
        open(sys.argv[2], "w").write(f"{n} lines; exec -> client p50 {statistics.median(lat):.2f} ms, p99 {q[98]:.2f} ms, max {max(lat):.2f} ms (n={len(lat)})")' "$work/helper.sock" "$work/lines" &
cpid=$!
for _ in $(seq 100); do grep -q "client 1 connected" "$work/helper.log" && break; sleep 0.1; done
sleep 0.5
rss() { awk '/^VmRSS/ {print $2}' "/proc/$hpid/status"; }
pss() { awk '/^Pss:/ {print $2}' "/proc/$hpid/smaps_rollup"; }
echo "idle: VmRSS $(rss) kB, Pss $(pss) kB"
install -m755 /bin/true "$work/ffprobe"
start=$(date +%s.%N)
sh -c "echo 0 >$app/cgroup.procs; i=0; while [ \$i -lt $execs ]; do $work/ffprobe; i=\$((i + 1)); done"
took=$(echo "$(date +%s.%N) - $start" | bc)
sleep 1
echo "after $execs execs in ${took} s: VmRSS $(rss) kB, Pss $(pss) kB; the client read $(cat "$work/lines" 2>/dev/null || echo "0 lines")"
kill -TERM "$hpid"; wait "$hpid" || true; hpid=
grep -E "serving|stopping" "$work/helper.log" | sed 's/^guardian-helper: /helper: /'
