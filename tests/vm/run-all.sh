#!/usr/bin/env bash
# Runs every VM test-bed scenario (one VM at a time) and writes tests/vm/out/summary.md.
#
# Usage: tests/vm/run-all.sh [--guardian PATH] [--repeat N] [--only NAME,NAME]
#   --guardian  guardian binary for the scenarios that need it (default: build/guardian if present)
#   --repeat N  run each scenario N times (out/NAME-1 … out/NAME-N), e.g. 3 to show stability
#   --only      run only these scenarios (default: baseline,guarded,systemd,restore)
# Exit: 0 when every run is PASS or SKIP, 1 when any FAILed, 2 on a harness error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repeat=1
only=baseline,guarded,systemd,restore
pass_args=()
while (($#)); do
  case $1 in
    --guardian) pass_args+=(--guardian "${2:?}"); shift 2 ;;
    --repeat) repeat=${2:?}; shift 2 ;;
    --only) only=${2:?}; shift 2 ;;
    *) echo "run-all: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

mkdir -p "$here/out"
"$here/build-image.sh" >&2 || exit 2
start=$(date +%s)
dirs=()
failed=0
IFS=, read -r -a scenarios <<<"$only"
for s in "${scenarios[@]}"; do
  for ((i = 1; i <= repeat; i++)); do
    d=$here/out/$s
    ((repeat > 1)) && d=$here/out/$s-$i
    if ((repeat > 1)); then echo "=== $s (run $i of $repeat)" >&2; else echo "=== $s" >&2; fi
    rc=0
    "$here/run-scenario.sh" "$s" --out "$d" ${pass_args[@]+"${pass_args[@]}"} || rc=$?
    ((rc == 2)) && { echo "run-all: harness error in $s" >&2; exit 2; }
    ((rc == 1)) && failed=1
    dirs+=("$d")
  done
done
python3 "$here/summarize.py" --wall $(( $(date +%s) - start )) "${dirs[@]}" >"$here/out/summary.md"
cat "$here/out/summary.md"
exit "$failed"
