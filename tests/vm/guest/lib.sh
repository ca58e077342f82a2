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

# The incident's "Jellyfin": fake-jellyfin.py with real ffmpeg transcodes, in container.slice,
# with the seed's MemoryHigh/MemoryMax scaled to the VM and Restart=always as in the incident.
start_jellyfin() {
  local args=(--heap-mb "${JF_HEAP_MB:-96}" --streams "${JF_STREAMS:-2}" --clip-seconds "${JF_CLIP_SECONDS:-60}")
  local props=(-p Restart=always -p RestartSec=2)
  [[ -n ${JF_MEMORY_HIGH:-} ]] && props+=(-p "MemoryHigh=$JF_MEMORY_HIGH")
  [[ -n ${JF_MEMORY_MAX:-} ]] && props+=(-p "MemoryMax=$JF_MEMORY_MAX")
  u systemd-run --user --quiet --unit=jellyfin --slice=container.slice \
    --description="Jellyfin stand-in (real ffmpeg transcodes)" "${props[@]}" \
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
  journalctl -q --no-pager --user-unit=jellyfin.service --since "@${1%.*}" -o cat 2>/dev/null \
    | grep -c '^segment ' || true
}

# The test user's memory budget: MemoryHigh on user@UID.service, USER_HIGH_PCT of RAM.
# Stands in for "RAM + swap exhausted" on the incident machine: without swap in the guest, plain
# RAM exhaustion brings the kernel OOM killer within seconds (measured: the desktop stand-in was
# OOM-killed with system some avg10 at 18%), whereas memory.high reclaims and throttles — the
# sustained stall that systemd-oomd acts on. Set at runtime (no daemon-reload of anything).
user_budget_mb() {
  local pct=${USER_HIGH_PCT:-60} mb
  mb=$(( $(mem_total_mb) * pct / 100 ))
  systemctl set-property --runtime "user@$TEST_UID.service" "MemoryHigh=${mb}M" >&2
  fact user_memory_high_mb "$mb" >&2
  echo "$mb"
}
