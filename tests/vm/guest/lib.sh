# Guest-side helpers for the scenario scripts (sourced). Runs as root inside the VM.
# shellcheck shell=bash
SHARE=${SHARE:-/mnt/share}
OUT=${OUT:-$SHARE/out}
TEST_USER=tester
TEST_UID=1000
USER_MGR=/user.slice/user-$TEST_UID.slice/user@$TEST_UID.service
CG=/sys/fs/cgroup

log() { printf '%s [%s] %s\n' "$(date -u +%T.%3N)" "${SCENARIO:-?}" "$*"; }
die() { log "ERROR: $*"; exit 2; }

# Run a command as the test user, inside its user manager's environment.
u() {
  runuser -u "$TEST_USER" -- env XDG_RUNTIME_DIR=/run/user/$TEST_UID \
    DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$TEST_UID/bus HOME=/home/$TEST_USER "$@"
}
uctl() { u systemctl --user "$@"; }

# A named point in time, for the analysis (marks.csv: name,t_mono,t_real).
mark() {
  local now_m now_r
  read -r now_m _ </proc/uptime
  now_r=$(date +%s.%N)
  echo "$1,$now_m,$now_r" >>"$OUT/marks.csv"
  log "MARK $1"
}

# Key=value facts for result.json (facts.env).
fact() { echo "$1=$2" >>"$OUT/facts.env"; log "FACT $1=$2"; }

wait_user_manager() {
  local i
  for i in $(seq 1 120); do
    if [[ -S /run/user/$TEST_UID/bus ]] && u systemctl --user is-system-running --wait >/dev/null 2>&1; then
      return 0
    fi
    sleep 1
  done
  u systemctl --user is-system-running || true
  die "the user manager of $TEST_USER did not come up"
}

mem_total_mb() { awk '/^MemTotal:/ {print int($2/1024)}' /proc/meminfo; }
mem_avail_mb() { awk '/^MemAvailable:/ {print int($2/1024)}' /proc/meminfo; }

# The incident's "Jellyfin": the Jellyfin stand-in (guest/jellyfin_standin: Jellyfin's REST API on
# 127.0.0.1:8096 with the unit tests' fixtures, a real ffmpeg HLS job per viewer built from the
# EncodingOptions in force) in container.slice, with the seed's MemoryHigh/MemoryMax scaled to the
# VM and Restart=always as in the incident. Its API key: ~tester/.config/fake-jellyfin/api-key.
start_jellyfin() {
  local args=(--heap-mb "${JF_HEAP_MB:-96}" --fixtures "$SHARE/jellyfin-fixtures" --port "${JF_PORT:-8096}"
              --media "$SHARE/media/source.mkv" --tasks "${JF_TASKS:-}")
  [[ -n ${JF_INITIAL_ENCODING:-} ]] && args+=(--initial-encoding "$JF_INITIAL_ENCODING")
  local props=(-p Restart=always -p RestartSec=2)
  [[ -n ${JF_MEMORY_HIGH:-} ]] && props+=(-p "MemoryHigh=$JF_MEMORY_HIGH")
  [[ -n ${JF_MEMORY_MAX:-} ]] && props+=(-p "MemoryMax=$JF_MEMORY_MAX")
  u systemd-run --user --quiet --unit=jellyfin --slice=container.slice \
    --description="Jellyfin stand-in (REST API, real ffmpeg transcodes)" "${props[@]}" \
    /usr/bin/python3 "$SHARE/guest/fake-jellyfin.py" "${args[@]}"
  log "started jellyfin.service in container.slice: ${args[*]} ${props[*]}"
}

# A "desktop" application in app.slice: a growing, used anonymous working set.
# start_desktop NAME START_MB STEP_MB INTERVAL_S MAX_MB
start_desktop() {
  u systemd-run --user --quiet --unit="desktop-$1" --slice=app.slice \
    --description="desktop stand-in $1" \
    /usr/bin/python3 "$SHARE/guest/balloon.py" --name "$1" --start-mb "$2" --step-mb "$3" \
    --interval "$4" --max-mb "$5"
  log "started desktop-$1.service in app.slice: $2 MiB, +$3 MiB every $4 s, up to $5 MiB"
}

# SIGKILL, not stop: a MemoryHigh-throttled service ignores SIGTERM until its stop timeout.
kill_unit() { uctl kill -s KILL "$1" >/dev/null 2>&1 || true; uctl stop "$1" >/dev/null 2>&1 || true; }

stop_workload() {
  local units
  units=$(uctl list-units --plain --no-legend 'desktop-*' 'jellyfin.service' | awk '{print $1}')
  for x in $units; do kill_unit "$x"; done
  uctl reset-failed >/dev/null 2>&1 || true
}

# Lines of systemd-oomd kills since a realtime timestamp (seconds since the epoch).
oomd_kills_since() {
  journalctl -q --no-pager -o short-unix -u systemd-oomd.service --since "@${1%.*}" 2>/dev/null \
    | grep -E 'Killed .* due to memory pressure' || true
}

# wait_oomd_kill SINCE TIMEOUT -> 0 when oomd killed something, 1 on timeout
wait_oomd_kill() {
  local since=$1 deadline=$(( $(date +%s) + $2 ))
  while (( $(date +%s) < deadline )); do
    if [[ -n $(oomd_kills_since "$since") ]]; then return 0; fi
    sleep 2
  done
  return 1
}

# The cgroups oomd monitors right now, from its live dump (not from drop-ins).
oomd_watched() { oomctl dump 2>/dev/null | sed -n 's/^[[:space:]]*Path: //p' | sort -u; }

# Segments the Jellyfin stand-in produced since a realtime timestamp.
segments_since() {
  # (not --user-unit: as root that also matches _UID=0 and finds nothing)
  journalctl -q --no-pager _SYSTEMD_USER_UNIT=jellyfin.service --since "@${1%.*}" -o cat 2>/dev/null \
    | grep -c '^segment ' || true
}

# Optional: a memory budget for the whole user, MemoryHigh on user@UID.service = USER_HIGH_PCT
# of RAM (0 = none, the default). Set at runtime (no daemon-reload of anything).
user_budget() {
  local pct=${USER_HIGH_PCT:-0} mb
  ((pct > 0)) || return 0
  mb=$(( $(mem_total_mb) * pct / 100 ))
  systemctl set-property --runtime "user@$TEST_UID.service" "MemoryHigh=${mb}M"
  fact user_memory_high_mb "$mb"
}

# container.slice with the limits of the seed's "Option 4", scaled to the VM. Started before
# Jellyfin so the limits are there from the first byte (set-property: no reload).
container_slice() {
  uctl start container.slice
  uctl set-property --runtime container.slice "MemoryHigh=${CONTAINER_HIGH:-320M}" \
    "MemoryMax=${CONTAINER_MAX:-640M}"
  fact container_memory_high "$(uctl show -p MemoryHigh --value container.slice)"
  fact container_memory_max "$(uctl show -p MemoryMax --value container.slice)"
}

# Viewers of the Jellyfin stand-in (re-read by it every second).
viewers() {
  u mkdir -p /home/$TEST_USER/.config/fake-jellyfin
  echo "{\"streams\": $1, \"buffer_mb\": $2}" | u tee /home/$TEST_USER/.config/fake-jellyfin/load.json.new >/dev/null
  u mv /home/$TEST_USER/.config/fake-jellyfin/load.json.new /home/$TEST_USER/.config/fake-jellyfin/load.json
  log "viewers: $1 streams, transcode buffers ${2} MiB each"
}

# --- the incident stand-in, shared by the scenarios --------------------------------------------
# incident_start: container.slice with its limits, Jellyfin in it, warm-up; sets AVAIL_MB.
incident_start() {
  log "oomd watches: $(oomd_watched | tr '\n' ' ')"
  user_budget
  container_slice
  viewers "${JF_STREAMS:-2}" "${JF_BUFFER_MB:-16}"
  local t_jf
  t_jf=$(date +%s)
  start_jellyfin
  # Under TCG an ffmpeg start alone takes ~20 s (measured by the probe in ffmpeg-probe.txt):
  # wait until segments flow, so the pressure hits a Jellyfin that is serving.
  local deadline=$(( t_jf + ${WARMUP_MAX_S:-240} ))
  while (( $(segments_since "$t_jf") < ${WARMUP_SEGMENTS:-3} && $(date +%s) < deadline )); do sleep 3; done
  fact warmup_segments "$(segments_since "$t_jf")"
  fact warmup_wait_s "$(( $(date +%s) - t_jf ))"
  log "Jellyfin serving; warming up ${WARMUP_S:-10}s more"
  sleep "${WARMUP_S:-10}"
  fact mem_total_mb "$(mem_total_mb)"
  AVAIL_MB=$(mem_avail_mb)
  fact mem_available_before_ramp_mb "$AVAIL_MB"
}

# ramp N: the incident's moment. The "desktop" (two apps in app.slice) grows to DESKTOP_PCT of
# the memory that was available, and a third viewer makes Jellyfin transcode one more stream with
# bigger buffers (the seed: "heavy transcoding, 2-3 streams, can spike"), which takes
# container.slice over its MemoryHigh.
ramp() {
  local browser_max mail_max
  browser_max=$(( AVAIL_MB * ${DESKTOP_PCT:-60} * 6 / 1000 ))
  mail_max=$(( AVAIL_MB * ${DESKTOP_PCT:-60} * 4 / 1000 ))
  mark ramp_start
  start_desktop "browser$1" 64 "${DESKTOP_STEP_MB:-24}" 1 "$browser_max"
  start_desktop "mail$1" 32 "${DESKTOP_STEP_MB:-24}" 2 "$mail_max"
  viewers "${SPIKE_STREAMS:-3}" "${SPIKE_BUFFER_MB:-80}"
}

# relieve N: the extra viewer leaves, the user closes the desktop apps.
relieve() {
  viewers "${JF_STREAMS:-2}" "${JF_BUFFER_MB:-16}"
  kill_unit "desktop-browser$1.service"
  kill_unit "desktop-mail$1.service"
  uctl reset-failed >/dev/null 2>&1 || true
  mark ramp_end
}

# check NAME PASS|FAIL DETAIL: a guest-side assertion for the analysis (checks.txt).
check() {
  echo "$1 $2 ${3:-}" >>"$OUT/checks.txt"
  log "CHECK $1 $2 ${3:-}"
}

# The guardian user service (installed by early.sh when the run has a binary).
start_guardian() {
  [[ -x /usr/local/bin/guardian ]] || die "no guardian binary in the guest"
  local missing
  # (ldd fails on a script such as the self-test stand-in: that is not an error)
  missing=$( (ldd /usr/local/bin/guardian 2>&1 || true) | awk '/not found/ {print $1}' | tr '\n' ' ')
  [[ -z $missing ]] || die "guardian needs libraries the image lacks: $missing(add their packages to tests/vm/build-image.sh)"
  log "guardian: $(cat /etc/guardian-vm.env)"
  if ! uctl start guardian.service; then
    uctl status guardian.service --no-pager -l || true
    die "guardian.service did not start (Type=notify: no READY=1?)"
  fi
  mark guardian_ready
  log "guardian.service active: $(uctl show -p MainPID -p ActiveState guardian.service | tr '\n' ' ')"
}

# Snapshot of guardian's view for the record (as the test user, like the desktop user would).
guardian_snapshot() {
  u /usr/local/bin/guardian sample --json >"$OUT/guardian-sample-$1.json" 2>"$OUT/guardian-sample-$1.err" || true
  u /usr/local/bin/guardian status >"$OUT/guardian-status-$1.txt" 2>&1 || true
}

# guardian events of one type since a realtime timestamp, as JSON lines (journal fields).
guardian_events_since() {
  journalctl -q --no-pager -o json --since "@${1%.*}" "GUARDIAN_EVENT=$2" 2>/dev/null || true
}

# wait_guardian_event SINCE EVENT TIMEOUT [JQ_FILTER] -> 0 once such an event was logged
wait_guardian_event() {
  local since=$1 ev=$2 deadline=$(( $(date +%s) + $3 )) filter=${4:-.}
  while (( $(date +%s) < deadline )); do
    if [[ -n $(guardian_events_since "$since" "$ev" | jq -c "select($filter)" 2>/dev/null) ]]; then
      return 0
    fi
    sleep 2
  done
  return 1
}

# Waits until guardian's own status (over the session bus) reports level $1, for up to $2 s.
# A level-changed event is not enough: guardian may go up and down several times in a ramp, and
# an older "-> normal" would match before the last relief took effect.
wait_guardian_level() {
  local want=$1 deadline=$(( $(date +%s) + $2 )) level
  while (( $(date +%s) < deadline )); do
    level=$(u /usr/local/bin/guardian status --json 2>/dev/null | jq -r '.level // empty' 2>/dev/null || true)
    [[ $level == "$want" ]] && return 0
    sleep 2
  done
  return 1
}

# The low-priority service of the systemd/restore scenarios: a counter, visibly stopped when frozen.
start_indexer() {
  u systemd-run --user --quiet --unit=indexer --slice=background.slice \
    --description="low-priority indexer stand-in" \
    /bin/sh -c 'i=0; while :; do i=$((i+1)); echo "indexed $i"; sleep 1; done'
}

unit_prop() { uctl show -p "$2" --value "$1" 2>/dev/null; }

# A policy for the scenario; SKIP (exit 0 with a SKIP check) when this guardian rejects it.
use_policy() {
  local p=$SHARE/guest/policies/$1
  if ! out=$(/usr/local/bin/guardian check-policy "$p" 2>&1); then
    echo "guardian check-policy rejects $1: $out" >"$OUT/skip.txt"
    log "SKIP: this guardian does not accept $1: $out"
    exit 0
  fi
  install -D -m644 "$p" "/etc/guardian/policies/$1"
  printf 'GUARDIAN_ARGS=--policy /etc/guardian/policies/%s %s\n' "$1" "${GUARDIAN_EXTRA_ARGS:-}" >/etc/guardian-vm.env
}
