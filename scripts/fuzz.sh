#!/usr/bin/env bash
# Builds every libFuzzer target (tests/fuzz/fuzz_*.cpp, clang 14 + ASan/UBSan) and runs each
# for a bounded time on its seed corpus (tests/fuzz/corpus/<name>/). A crash fails the script
# and leaves the reproducer in build-fuzz/crashes/.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 \
  -DCMAKE_CXX_COMPILER=clang++-14 -DGUARDIAN_FUZZ=ON -DGUARDIAN_TESTS=ON >/dev/null
targets=()
for src in tests/fuzz/fuzz_*.cpp; do targets+=("$(basename "$src" .cpp)"); done
cmake --build build-fuzz --target "${targets[@]}"
mkdir -p build-fuzz/crashes
passed=0 failed=0
for target in "${targets[@]}"; do
  name=${target#fuzz_}
  work=$(mktemp -d)
  seeds=tests/fuzz/corpus/$name
  [[ -d $seeds ]] && cp -r "$seeds"/. "$work"/
  if build-fuzz/tests/"$target" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
       -artifact_prefix=build-fuzz/crashes/"$target"- "$work" >build-fuzz/"$target".log 2>&1; then
    runs=$(grep -oE 'Done [0-9]+ runs' build-fuzz/"$target".log | grep -oE '[0-9]+' || echo "?")
    printf 'fuzz %-28s ok   %s runs in %ss\n' "$target" "$runs" "$seconds"
    passed=$((passed + 1))
  else
    printf 'fuzz %-28s FAILED (see build-fuzz/%s.log)\n' "$target" "$target"
    tail -30 build-fuzz/"$target".log
    failed=$((failed + 1))
  fi
  rm -rf "$work"
done
echo "fuzz: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
