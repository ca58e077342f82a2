#!/usr/bin/env bash
# One sense tick over N cgroups (default 500) against the bare cost of reading the same files
# once with cat: wall time and callgrind instruction counts. Prints the figures for the README.
#
#   tests/bench/run_bench.sh [N]        (after: cmake --build build --target bench_tick)
#
# Env: BUILD (build dir, default build), DIR (tree, default /tmp/guardian-bench-N).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-500}
BUILD=${BUILD:-build}
DIR=${DIR:-/tmp/guardian-bench-$N}
BENCH=$BUILD/tests/bench/bench_tick
[[ -x $BENCH ]] || { echo "run_bench.sh: $BENCH missing; build it: cmake --build $BUILD --target bench_tick" >&2; exit 2; }

python3 tests/bench/gen_cgroups.py "$N" "$DIR"
export GUARDIAN_BENCH_ROOT=$DIR
LIST=$(mktemp)
WORK=$(mktemp -d)
trap 'rm -rf "$LIST" "$WORK"' EXIT
# Exactly the files one tick reads.
{ echo "$DIR/proc/meminfo"; echo "$DIR/proc/pressure/memory"; find "$DIR/sys/fs/cgroup" -type f -name 'memory.*'; } > "$LIST"
FILES=$(wc -l < "$LIST")
mapfile -t FILE_ARGS < "$LIST"
echo "tree: $DIR, $N cgroups under user@1000.service, $FILES files per tick, load: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "== wall time =="
"$BENCH" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_filter='BM_SampleTick/5$|BM_ReadFilesOnce' --benchmark_out="$WORK/gbench.json" \
  --benchmark_out_format=json > "$WORK/gbench.txt" 2>&1 || { cat "$WORK/gbench.txt"; exit 1; }
grep -E '^BM_.*_median' "$WORK/gbench.txt"
tick_us=$(python3 -c "
import json; d=json.load(open('$WORK/gbench.json'))
print([b['real_time'] for b in d['benchmarks'] if b['name']=='BM_SampleTick/5_median'][0])")
if command -v hyperfine > /dev/null; then
  hyperfine -N --warmup 3 --runs 30 --export-json "$WORK/cat.json" "cat ${FILE_ARGS[*]}" > /dev/null 2>&1 ||
    hyperfine --warmup 3 --runs 30 --export-json "$WORK/cat.json" "xargs -a $LIST cat" > /dev/null
  cat_us=$(python3 -c "import json; print(json.load(open('$WORK/cat.json'))['results'][0]['median']*1e6)")
  how="hyperfine, median of 30"
else
  start=$(date +%s%N)
  for _ in $(seq 20); do xargs -a "$LIST" cat > /dev/null; done
  cat_us=$(( ($(date +%s%N) - start) / 20000 ))
  how="shell loop, mean of 20"
fi
python3 -c "
import json; d={b['name']: b for b in json.load(open('$WORK/gbench.json'))['benchmarks']}
t=d['BM_SampleTick/5_median']; r=d['BM_ReadFilesOnce_median']
print(f\"CPU per tick: {t['cpu_time']:.0f} us; in-process open+read+close of the same files: {r['cpu_time']:.0f} us \"
      f\"({t['cpu_time']/r['cpu_time']:.2f}x)\")"
python3 -c "print(f'tick (Sampler::sample, median): {$tick_us:9.0f} us')"
python3 -c "print(f'cat of the same files ($how): {$cat_us:9.0f} us')"
python3 -c "print(f'ratio tick / cat: {$tick_us/$cat_us:.2f}x   (goal <= 1.2x)')"

echo
echo "== instructions (callgrind) =="
TICKS=20
# Only the loop of ticks is counted (CALLGRIND_TOGGLE_COLLECT in bench_tick), not the first tick
# that opens the fds; every 5th tick re-walks the tree (the default rescan_every_ticks).
valgrind --tool=callgrind --callgrind-out-file="$WORK/tick.out" --collect-atstart=no \
  "$BENCH" --ticks $TICKS > /dev/null 2>&1
valgrind --tool=callgrind --callgrind-out-file="$WORK/once.out" --collect-atstart=no \
  "$BENCH" --read-once $TICKS > /dev/null 2>&1
valgrind --tool=callgrind --callgrind-out-file="$WORK/cat.out" cat "${FILE_ARGS[@]}" > /dev/null 2> /dev/null
valgrind --tool=callgrind --callgrind-out-file="$WORK/cat0.out" cat /dev/null > /dev/null 2> /dev/null
ir() { grep -E '^(summary|totals):' "$1" | head -1 | awk '{print $2}'; }
tick_ir=$(( $(ir "$WORK/tick.out") / TICKS ))
cat_ir=$(ir "$WORK/cat.out")
cat0_ir=$(ir "$WORK/cat0.out")
once_ir=$(( $(ir "$WORK/once.out") / TICKS ))
echo "tick (per Sampler::sample, mean of $TICKS): $tick_ir Ir"
echo "open+read+close of the same files in-process: $once_ir Ir"
echo "cat of the same files (whole process):     $cat_ir Ir"
echo "cat without its start-up (minus cat /dev/null = $cat0_ir): $(( cat_ir - cat0_ir )) Ir"
python3 -c "print(f'ratio tick / cat: {$tick_ir/$cat_ir:.2f}x; tick / cat-without-start-up: {$tick_ir/($cat_ir-$cat0_ir):.2f}x; tick / in-process reads: {$tick_ir/$once_ir:.2f}x')"
echo "(callgrind counts user-space instructions only: the kernel's side, where kept fds save an open"
echo " and a close per file, is not in these numbers; the wall and CPU times above include it)"
