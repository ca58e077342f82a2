#!/bin/bash
# squeeze-baseline: the whole user runs short of memory, no guardian (issue 10). Expect
# systemd-oomd to kill (the image's rule: --oomd-profile debian watches user@1000.service at 50%,
# fedora every user slice at 80%; 20 s), and record when: the guarded runs of the same scenario
# are measured against this kill.
# timeout: 900
# The test user's budget is capped (USER_MAX / USER_HIGH on USER_CG, or the guest's RAM alone);
# the Jellyfin stand-in (real ffmpeg HLS) serves in container.slice under the user's own
# 800M/1000M limits, which are not what binds; the desktop's apps in app.slice grow into the
# rest of the budget and a third viewer joins. The root-side stall probe records the approach
# signals (stall-probe.jsonl). Parameters (--set): USER_CG (user@1000.service), USER_MAX,
# USER_HIGH, DROP_CACHES (1), CONTAINER_HIGH (800M), CONTAINER_MAX (1000M), DESKTOP_PCT (100), DESKTOP_STEP_MB
# (24), DESKTOP_INTERVAL_S (1), SPIKE_AFTER_S (15), SPIKE_STREAMS (3), SPIKE_BUFFER_MB (120), JF_*, WARMUP_S,
# BASELINE_MAX_WAIT_S (300), AFTERMATH_S (20), PROBE_INTERVAL_S (0.15), OOMD_DURATION,
# JELLYFIN (api: the stand-in as a quality-minded admin's Jellyfin with its trickplay task and
# obeying clients, lib.sh squeeze_jellyfin_defaults; its EncodingOptions and tasks recorded at the
# start and the end, jellyfin-{start,end}-*.json).
set -euo pipefail
# shellcheck source=../lib.sh
. "$SHARE/guest/lib.sh"

squeeze_jellyfin_defaults
squeeze_start_probe
squeeze_setup
squeeze_serve
[[ ${JELLYFIN:-} == api ]] && jellyfin_snapshot start
t0=$(date +%s)
squeeze_ramp
mark pressure_start
if wait_oomd_kill "$t0" "${BASELINE_MAX_WAIT_S:-300}"; then
  mark oomd_kill_seen
  oomd_kills_since "$t0" | while read -r line; do log "oomd: $line"; done
  log "watching the aftermath for ${AFTERMATH_S:-20}s"
  sleep "${AFTERMATH_S:-20}"
else
  log "no oomd kill within ${BASELINE_MAX_WAIT_S:-300}s"
fi
squeeze_relieve
[[ ${JELLYFIN:-} == api ]] && jellyfin_snapshot end
stop_workload
mark workload_stopped
jellyfin_trace_stop
squeeze_stop_probe
