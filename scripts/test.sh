#!/usr/bin/env bash
# Quick start, command 2: install what the tests need, build, and run every test:
#   1. unit + integration tests (ctest: GoogleTest, a real journald, dbus-daemon, Prometheus,
#      ffmpeg, the fake Jellyfin)
#   2. the same suite again under AddressSanitizer + UndefinedBehaviorSanitizer
#   3. the threaded tests again under ThreadSanitizer (see below which)
#   4. every libFuzzer target for a bounded time (GUARDIAN_FUZZ_SECONDS, default 12 each: 27 targets, ~6 min, leaving CI room for the TSan stage)
#   5. the qemu VM scenarios where the whole user runs short, squeeze-jellyfin-short + squeeze-short
#      (real systemd + systemd-oomd, judged against committed baselines) unless GUARDIAN_E2E=0
# Each stage prints its own summary; the script stops at the first failing stage.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${GUARDIAN_JOBS:-$(nproc)}
# ccache keys on paths relative to the checkout, so a fresh clone in another folder (CI) reuses
# what an earlier build compiled.
export CCACHE_BASEDIR=$PWD
# ... and leaves the working directory out of the hash (it is in -g's debug info otherwise, so a
# clone in a new folder would miss every object; only DW_AT_comp_dir of a reused object differs).
export CCACHE_NOHASHDIR=true
started=$(date +%s)
# CI must finish within 60 minutes; the VM scenarios run only while this budget (minutes) leaves
# room for them.
budget_min=${GUARDIAN_TIME_BUDGET_MIN:-55}

# Each stage's header says how long the script has run, so a slow CI run shows where its time went.
stage() { printf '\n==== %s (at %d min %02d s) ====\n' "$*" $(( ($(date +%s) - started) / 60 )) $(( ($(date +%s) - started) % 60 )); }
minutes_left() { echo $(( budget_min - ($(date +%s) - started) / 60 )); }

stage "dependencies"
if [[ "${GUARDIAN_E2E:-1}" != 0 ]]; then scripts/install-deps.sh --with-vm; else scripts/install-deps.sh; fi

stage "build + unit/integration tests"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 300

stage "ASan + UBSan build + tests"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DGUARDIAN_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" --timeout 600

# ThreadSanitizer: the tests whose code runs more than one thread (the loop with its action worker,
# Jellyfin watcher, bus threads and the /metrics server), not the whole suite: a third full build
# and run would not fit CI's 60 minutes beside the VM scenarios (the last CI run took 52 of them, VM included).
# Only guardian_tests is built (the bus tests with their dbus-daemon included).
stage "ThreadSanitizer build + threaded tests"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGUARDIAN_TSAN=ON >/dev/null
cmake --build build-tsan -j "$jobs" --target guardian_tests guardian
threaded='^(ActionWorker|ActionRunner|StateStoreTest|SystemdActionsTest|JellyfinActionsTest|BusTest|SystemdComponent|DbusServiceTest|MetricsExporter|MetricsExporterServer|MetricsServer|HttpHostile|HttpSend|ClientTest|WatcherTest|DaemonTest|JellyfinDaemonTest|HelperLink|WatchdogPinger|LivenessGate|StatusMailbox|TripleBuffer|DbusServiceReconnect|DbusServiceQueue)\.'
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest --test-dir build-tsan --output-on-failure -j "$jobs" --timeout 600 -R "$threaded"

stage "fuzzing"
scripts/fuzz.sh "${GUARDIAN_FUZZ_SECONDS:-12}"

# The VM scenarios CI runs are the two where the whole user runs short of memory, each judged
# against the committed figures of its baseline run (tests/vm/squeeze-baselines.json), so no
# baseline is run here: squeeze-jellyfin-short (issue 12: the Jellyfin stand-in with its REST
# API and real ffmpeg jobs, guardian's default policy plus one [[jellyfin]] table; no oomd kill,
# every EncodingOptions field and client bitrate back) and squeeze-short (issue 10: guardian's
# tick under the same shortage). The older container.slice scenarios (baseline, guarded, systemd,
# restore) run with GUARDIAN_E2E_SCENARIOS=all.
if [[ "${GUARDIAN_E2E:-1}" != 0 && -x tests/vm/run-all.sh ]]; then
  stage "VM scenarios (qemu, real systemd-oomd)"
  scenarios=${GUARDIAN_E2E_SCENARIOS:-squeeze-jellyfin-short,squeeze-short}
  [[ $scenarios == all ]] && scenarios=squeeze-jellyfin-short,squeeze-short,baseline,guarded,systemd,restore
  IFS=, read -r -a wanted <<<"$scenarios"
  # Minutes a scenario needs to start (its usual length under TCG plus a margin; its own timeout
  # ends a hung one): squeeze-jellyfin-short 9-10 min, squeeze-short ≈ 4-8, guarded ≈ 7.
  declare -A needs_min=([squeeze-jellyfin-short]=15 [squeeze-short]=10)
  # The image is built (or found in the cache) first, on its own clock: a machine without the cached
  # image spends 3-15 min on it (909 s measured at a heavy load), and a scenario started after it must still fit.
  left=$(minutes_left)
  if (( left < 15 )); then
    echo "VM scenarios skipped: ${left} min left of the ${budget_min}-min budget (GUARDIAN_TIME_BUDGET_MIN), no room for the image"
    wanted=()
  else
    # the image of each oomd profile the wanted scenarios boot: Debian's for the squeeze runs,
    # Fedora's too for the container.slice ones
    profiles=(debian)
    for s in "${wanted[@]}"; do
      case $s in baseline | guarded | systemd | restore) profiles+=(fedora); break ;; esac
    done
    for p in "${profiles[@]}"; do tests/vm/build-image.sh --oomd-profile "$p"; done
  fi
  for scenario in ${wanted[@]+"${wanted[@]}"}; do
    left=$(minutes_left)
    need=${needs_min[$scenario]:-12}
    if (( left < need )); then
      echo "VM scenario $scenario skipped: ${left} min left of the ${budget_min}-min budget (GUARDIAN_TIME_BUDGET_MIN), it needs ${need}"
      continue
    fi
    tests/vm/run-all.sh --guardian build/guardian/guardian --only "$scenario"
  done
fi
stage "all stages passed"
