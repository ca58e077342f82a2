#!/bin/bash
# guarded: the baseline's incident stand-in with guardian running as the test user's service
# (policy: the repo's policies/default.toml, or the embedded default). Expect: no oomd kill, no
# kernel OOM kill, the Jellyfin stand-in still producing HLS segments, guardian's level and
# action events in the journal, full avg10 of every oomd-watched cgroup below oomd's limit.
# Repeats the pressure ramp RAMPS times for the reaction-time percentiles.
# requires: guardian
# timeout: 900
# Parameters (--set): as baseline, plus RAMPS (2), HOLD_S (how long the desktop stays at its
# peak, default 60: longer than oomd needs to kill in baseline), COOLDOWN_S (45).
set -euo pipefail
# shellcheck source=../lib.sh
. "$SHARE/guest/lib.sh"

use_policy guarded.toml
start_guardian
guardian_snapshot idle
incident_start
mark pressure_start
for ((r = 1; r <= ${RAMPS:-2}; r++)); do
  log "ramp $r of ${RAMPS:-2}"
  ramp_real=$(date +%s)
  ramp "$r"
  # the desktop grows for about RAMP_S seconds, then holds at its peak
  sleep $(( ${RAMP_S:-40} + ${HOLD_S:-60} ))
  guardian_snapshot "peak$r"
  n=$(oomd_kills_since "$ramp_real" | wc -l)
  log "ramp $r: $n oomd kills, $(segments_since "$ramp_real") segments"
  relieve "$r"
  sleep "${COOLDOWN_S:-45}"
done
guardian_snapshot end
if uctl is-active --quiet guardian.service; then
  check guardian_alive PASS "guardian.service still active after ${RAMPS:-2} ramps"
else
  check guardian_alive FAIL "guardian.service is $(uctl is-active guardian.service)"
fi
stop_workload
mark workload_stopped
uctl stop guardian.service || true
