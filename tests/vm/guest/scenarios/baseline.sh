#!/bin/bash
# baseline: the incident stand-in with no guardian. Expect systemd-oomd to kill a cgroup.
# timeout: 540
# A "Jellyfin" (real ffmpeg HLS transcodes) runs in container.slice; "desktop" apps in app.slice
# grow while a third viewer takes container.slice over its MemoryHigh; oomd (Fedora profile: every user slice at
# 80% full avg10 for the configured duration, 20 s) kills. Analysed on the host (analyze.py).
# Parameters (--set): WARMUP_S, CONTAINER_HIGH (320M), CONTAINER_MAX (640M), DESKTOP_PCT (60),
# DESKTOP_STEP_MB, JF_HEAP_MB, JF_STREAMS, JF_BUFFER_MB, SPIKE_STREAMS (3), SPIKE_BUFFER_MB (80),
# USER_HIGH_PCT (0: off), OOMD_DURATION, BASELINE_MAX_WAIT_S (360), AFTERMATH_S.
set -euo pipefail
# shellcheck source=../lib.sh
. "$SHARE/guest/lib.sh"

incident_start
ramp_real=$(date +%s)
ramp 1
mark pressure_start
if wait_oomd_kill "$ramp_real" "${BASELINE_MAX_WAIT_S:-360}"; then
  mark oomd_kill_seen
  oomd_kills_since "$ramp_real" | while read -r line; do log "oomd: $line"; done
  log "watching the aftermath for ${AFTERMATH_S:-15}s"
  sleep "${AFTERMATH_S:-15}"
else
  log "no oomd kill within ${BASELINE_MAX_WAIT_S:-360}s"
fi
stop_workload
mark workload_stopped
