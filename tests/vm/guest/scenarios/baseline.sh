#!/bin/bash
# baseline: the incident stand-in with no guardian. Expect systemd-oomd to kill a cgroup.
# A "Jellyfin" (real ffmpeg HLS transcodes) runs in container.slice; "desktop" apps in app.slice
# grow until the 2 GiB, swapless VM thrashes; oomd (Fedora profile: every user slice at 80% full
# avg10 for OOMD_DURATION) kills. The kill and what led to it are analysed on the host.
set -euo pipefail
# shellcheck source=../lib.sh
. "$SHARE/guest/lib.sh"

log "oomd watches: $(oomd_watched | tr '\n' ' ')"
start_jellyfin
log "warming up ${WARMUP_S:-20}s (transcodes running, segments appearing)"
sleep "${WARMUP_S:-20}"
fact segments_warmup "$(segments_since "$(date -d "-${WARMUP_S:-20} sec" +%s)")"

fact mem_total_mb "$(mem_total_mb)"
fact mem_available_before_ramp_mb "$(mem_avail_mb)"
budget=$(user_budget_mb)
# The desktop grows to DESKTOP_PCT of the user's budget; with Jellyfin that is more than it has.
browser_max=$(( budget * ${DESKTOP_PCT:-100} * 6 / 1000 ))
mail_max=$(( budget * ${DESKTOP_PCT:-100} * 4 / 1000 ))
mark ramp_start
ramp_real=$(date +%s)
start_desktop browser 64 "${DESKTOP_STEP_MB:-24}" 1 "$browser_max"
start_desktop mail 32 "${DESKTOP_STEP_MB:-24}" 2 "$mail_max"

if wait_oomd_kill "$ramp_real" "${BASELINE_MAX_WAIT_S:-300}"; then
  mark oomd_kill_seen
  oomd_kills_since "$ramp_real" | while read -r line; do log "oomd: $line"; done
  log "watching the aftermath for ${AFTERMATH_S:-15}s"
  sleep "${AFTERMATH_S:-15}"
else
  mark no_oomd_kill
  log "no oomd kill within ${BASELINE_MAX_WAIT_S:-300}s"
fi
fact segments_total "$(segments_since "$ramp_real")"
stop_workload
mark workload_stopped
