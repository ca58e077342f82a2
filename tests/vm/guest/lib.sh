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

# Jellyfin's API as guardian calls it (the stand-in's key, as root: curl runs in system.slice).
JF_URL=http://127.0.0.1:${JF_PORT:-8096}
JF_KEY_FILE=/home/$TEST_USER/.config/fake-jellyfin/api-key
jf() {  # jf METHOD PATH [BODY]: the response body
  local auth
  auth="MediaBrowser Client=\"guardian\", Device=\"guardian\", DeviceId=\"vm\", Version=\"0\", Token=\"$(cat "$JF_KEY_FILE")\""
  if [[ $# -ge 3 ]]; then
    curl -sS -m 30 -X "$1" -H "Authorization: $auth" -H "Content-Type: application/json" --data "$3" "$JF_URL$2"
  else
    curl -sS -m 30 -X "$1" -H "Authorization: $auth" "$JF_URL$2"
  fi
}
jf_status() {  # jf_status METHOD PATH [BODY]: the HTTP status (key as X-Emby-Token)
  local args=(-sS -m 30 -o /dev/null -w '%{http_code}' -X "$1" -H "X-Emby-Token: $(cat "$JF_KEY_FILE")")
  [[ $# -ge 3 ]] && args+=(-H "Content-Type: application/json" --data "$3")
  curl "${args[@]}" "$JF_URL$2"
}

# A "desktop" application in app.slice: a growing, used anonymous working set.
# start_desktop NAME START_MB STEP_MB INTERVAL_S MAX_MB
start_desktop() {
  u systemd-run --user --quiet --unit="desktop-$1" --slice=app.slice \
    --description="desktop stand-in $1" \
    /usr/bin/python3 "$SHARE/guest/balloon.py" --name "$1" --start-mb "$2" --step-mb "$3" \
    --interval "$4" --max-mb "$5" --file-pct "${DESKTOP_FILE_PCT:-0}"
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

# Viewers of the Jellyfin stand-in (re-read by it every second). JF_OBEYING: the clients that
# obey SetMaxStreamingBitrate, comma-separated (default: the stand-in's own, Jellyfin Media Player).
viewers() {
  u mkdir -p /home/$TEST_USER/.config/fake-jellyfin
  local obeying=""
  [[ -n ${JF_OBEYING:-} ]] && obeying=", \"obeys_bitrate\": $(jq -cn --arg s "$JF_OBEYING" '$s | split(",")')"
  echo "{\"streams\": $1, \"buffer_mb\": $2$obeying}" | u tee /home/$TEST_USER/.config/fake-jellyfin/load.json.new >/dev/null
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

# wait_jellyfin_restored SECONDS: until guardian's state file holds no Jellyfin entry (every
# setting, task and client bitrate it changed is put back; a restore Jellyfin did not answer is
# retried on the watcher's rounds, after its circuit breaker's back-off), or SECONDS pass.
wait_jellyfin_restored() {
  local deadline=$(( $(date +%s) + $1 )) state=/home/$TEST_USER/.local/state/guardian/state.json left
  while (( $(date +%s) < deadline )); do
    left=$(jq -r '[.saved // {} | keys[] | select(startswith("jellyfin/"))] | length' "$state" 2>/dev/null || echo 0)
    [[ $left == 0 ]] && return 0
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

# --- the whole user runs short (issue 10: scenarios squeeze-*) -----------------------------------
# A desktop running out of memory: the test user's whole budget (user@UID.service, or
# user-UID.slice) is capped the way RAM caps a desktop, and the desktop hogs in app.slice plus
# the Jellyfin stand-in in container.slice (whose own limits, the user's 800M/1000M, are not what
# binds) all live in it, with guardian, when it runs, in the same user manager.

# size_mb SPEC: "1200M", "1G" or "60%" (of MemTotal) -> MiB
size_mb() {
  local s=$1
  case $s in
    *%) echo $(( $(mem_total_mb) * ${s%\%} / 100 )) ;;
    *G) echo $(( ${s%G} * 1024 )) ;;
    *M) echo "${s%M}" ;;
    *) echo $(( s / 1048576 )) ;;
  esac
}

# cgroup_mb PATH FILE -> MiB in a cgroup's memory file (0 when missing, -1 for "max")
cgroup_mb() {
  local v
  v=$(cat "$CG$1/$2" 2>/dev/null || echo 0)
  [[ $v == max ]] && { echo -1; return; }
  echo $(( v / 1048576 ))
}

# The budget: USER_MAX (MemoryMax) and/or USER_HIGH (MemoryHigh) on USER_CG (user@UID.service by
# default, or user-UID.slice), at run time (no daemon-reload anywhere). Sets BUDGET_MB (the
# lower of the two) and USER_CG_PATH.
squeeze_budget() {
  local unit=${USER_CG:-user@$TEST_UID.service} props=() mb
  case $unit in
    user@*) USER_CG_PATH=$USER_MGR ;;
    user-*.slice) USER_CG_PATH=/user.slice/$unit ;;
    *) die "USER_CG must be user@$TEST_UID.service or user-$TEST_UID.slice, not '$unit'" ;;
  esac
  BUDGET_MB=0
  if [[ -n ${USER_MAX:-} ]]; then
    mb=$(size_mb "$USER_MAX"); props+=("MemoryMax=${mb}M"); BUDGET_MB=$mb
    fact user_memory_max_mb "$mb"
  fi
  if [[ -n ${USER_HIGH:-} ]]; then
    mb=$(size_mb "$USER_HIGH"); props+=("MemoryHigh=${mb}M")
    ((BUDGET_MB == 0 || mb < BUDGET_MB)) && BUDGET_MB=$mb
    fact user_memory_high_mb "$mb"
  fi
  if ((${#props[@]})); then
    systemctl set-property --runtime "$unit" "${props[@]}"
  else
    BUDGET_MB=$(( $(mem_avail_mb) + $(cgroup_mb "$USER_CG_PATH" memory.current) ))  # the guest's RAM
  fi
  fact user_cg "$unit"
  fact user_budget_mb "$BUDGET_MB"
  local what="${props[*]}"
  log "the user's budget: ${what:-the guest RAM alone} on $unit (${BUDGET_MB} MiB)"
}

# The root-side probe of guardian and of the approach signals (stall-probe.py), every
# PROBE_INTERVAL_S; stopped by squeeze_stop_probe (or the VM's power-off).
squeeze_start_probe() {
  # (stdout not on the scenario's pipe: a probe left running would keep the runner's tee open)
  python3 "$SHARE/guest/stall-probe.py" "$OUT/stall-probe.jsonl" --interval "${PROBE_INTERVAL_S:-0.15}" \
    --uid "$TEST_UID" >/dev/null 2>"$OUT/stall-probe.err" &
  PROBE_PID=$!
  log "stall probe running (pid $PROBE_PID, every ${PROBE_INTERVAL_S:-0.15}s)"
}
squeeze_stop_probe() { [[ -n ${PROBE_PID:-} ]] && kill "$PROBE_PID" 2>/dev/null; wait "$PROBE_PID" 2>/dev/null || true; }

# The budget and container.slice with the user's own limits (before guardian starts, as on a
# desktop where the user set them long ago).
squeeze_setup() {
  log "oomd watches: $(oomd_watched | tr '\n' ' ')"
  # A page of the page cache is charged to the cgroup that first read it. Until now root has
  # read everything (the image's install of guardian, the ffmpeg probe, check-policy), so the
  # user's programs' code would sit in system.slice, out of reach of the user's own limit, and
  # the user's reclaim would find almost no file pages (measured: 2-3 MiB). Drop the clean
  # caches, as after a reboot: from here each program's code is charged to whoever runs it.
  if [[ ${DROP_CACHES:-1} == 1 ]]; then
    sync
    echo 3 >/proc/sys/vm/drop_caches
    log "page cache dropped (DROP_CACHES=1)"
  fi
  squeeze_budget
  CONTAINER_HIGH=${CONTAINER_HIGH:-800M} CONTAINER_MAX=${CONTAINER_MAX:-1000M} container_slice
}

# The stand-in serving (2 viewers) inside the budget, before the desktop grows.
squeeze_serve() {
  viewers "${JF_STREAMS:-2}" "${JF_BUFFER_MB:-16}"
  local t_jf deadline
  t_jf=$(date +%s)
  start_jellyfin
  [[ ${JELLYFIN:-} == api ]] && jellyfin_trace_start
  deadline=$(( t_jf + ${WARMUP_MAX_S:-240} ))
  while (( $(segments_since "$t_jf") < ${WARMUP_SEGMENTS:-3} && $(date +%s) < deadline )); do sleep 3; done
  fact warmup_segments "$(segments_since "$t_jf")"
  fact warmup_wait_s "$(( $(date +%s) - t_jf ))"
  log "Jellyfin serving; settling ${WARMUP_S:-10}s"
  sleep "${WARMUP_S:-10}"
  fact mem_total_mb "$(mem_total_mb)"
  fact mem_available_before_ramp_mb "$(mem_avail_mb)"
}

# The moment: the desktop grows until the user runs short. Its apps (browser 60%, mail 40%) grow
# by DESKTOP_STEP_MB (browser every DESKTOP_INTERVAL_S (1) s, mail every twice that) to
# DESKTOP_PCT % of the room the
# budget had left when the workload began; SPIKE_AFTER_S later a third viewer joins with
# SPIKE_BUFFER_MB (120) of transcode buffers each (the seed's "2-3 streams … can spike"): the
# stand-in then holds ≈ 0.6 GiB, under the user's own 800M MemoryHigh of container.slice but over
# the 491M that guardian's default [container_slice] (25% of a 2 GiB guest) would set.
squeeze_ramp() {
  local used room desktop
  used=$(cgroup_mb "$USER_CG_PATH" memory.current)
  room=$(( BUDGET_MB - used ))
  desktop=$(( room * ${DESKTOP_PCT:-100} / 100 ))
  # what makes runs comparable (summarize.py pairs guarded runs with baselines of the same key)
  local every=${DESKTOP_INTERVAL_S:-1}
  fact squeeze_params "budget=${USER_CG:-user@$TEST_UID.service}:max=${USER_MAX:-}:high=${USER_HIGH:-}:mem=$(mem_total_mb):desktop=${DESKTOP_PCT:-100}%:step=${DESKTOP_STEP_MB:-24}$( [[ $every != 1 ]] && echo "/${every}s")$( [[ ${DESKTOP_FILE_PCT:-0} != 0 ]] && echo "/file=${DESKTOP_FILE_PCT}%"):heap=${JF_HEAP_MB:-96}:spike=${SPIKE_AFTER_S:-15}s/${SPIKE_STREAMS:-3}x${SPIKE_BUFFER_MB:-120}$( [[ ${JELLYFIN:-} == api ]] && echo ":jf=api/$(sed -n 's/^jellyfin_media=//p' "$OUT/facts.env" | tail -1)/${JF_TASKS}")"
  fact user_used_at_workload_mb "$used"
  fact desktop_target_mb "$desktop"
  mark workload_start
  mark ramp_start
  start_desktop browser 64 "${DESKTOP_STEP_MB:-24}" "$every" $(( desktop * 6 / 10 ))
  start_desktop mail 32 "${DESKTOP_STEP_MB:-24}" "$(awk "BEGIN {print 2 * $every}")" $(( desktop * 4 / 10 ))
  (
    sleep "${SPIKE_AFTER_S:-15}"
    viewers "${SPIKE_STREAMS:-3}" "${SPIKE_BUFFER_MB:-120}"
    mark spike
  ) &
  SPIKE_PID=$!
}

# squeeze_hold: keep the workload up HOLD_S (150) since it began, and at least
# HOLD_AFTER_BUDGET_S (60) past the moment the user's memory reached its budget (memory.current
# ≥ the lower of memory.high/max of USER_CG, read as root; waited for at most BUDGET_WAIT_MAX_S,
# 300): the baseline's kill comes ≈ 30-35 s after that moment, and how soon the emulated desktop
# gets there depends on the host's load, so a fixed hold alone would end too early on a busy
# host or waste minutes on an idle one. Sets HELD_BUDGET_AT (seconds since the workload began, or
# empty).
squeeze_hold() {
  local t0=$1 lim cur now deadline reached=""
  deadline=$(( t0 + ${BUDGET_WAIT_MAX_S:-300} ))
  while (( $(date +%s) < deadline )); do
    lim=$(budget_bytes)
    cur=$(cat "$CG$USER_CG_PATH/memory.current" 2>/dev/null || echo 0)
    if [[ -n $lim ]] && (( cur >= lim )); then reached=$(date +%s); break; fi
    sleep 1
  done
  HELD_BUDGET_AT=""
  if [[ -n $reached ]]; then
    HELD_BUDGET_AT=$(( reached - t0 ))
    mark budget_reached
    log "the user reached its budget $HELD_BUDGET_AT s after the workload began; holding ${HOLD_AFTER_BUDGET_S:-60}s past it"
  else
    log "the user did not reach its budget within ${BUDGET_WAIT_MAX_S:-300}s"
  fi
  local hold_until=$(( t0 + ${HOLD_S:-150} ))
  [[ -n $reached ]] && (( reached + ${HOLD_AFTER_BUDGET_S:-60} > hold_until )) && hold_until=$(( reached + ${HOLD_AFTER_BUDGET_S:-60} ))
  now=$(date +%s)
  (( hold_until > now )) && sleep $(( hold_until - now ))
  return 0
}

# The lower of memory.high and memory.max of the user's cgroup in bytes (the guest's RAM when
# neither is set: MemTotal).
budget_bytes() {
  local h m v best=""
  h=$(cat "$CG$USER_CG_PATH/memory.high" 2>/dev/null)
  m=$(cat "$CG$USER_CG_PATH/memory.max" 2>/dev/null)
  for v in $h $m; do
    [[ $v == max || -z $v ]] && continue
    [[ -z $best ]] || (( v < best )) && best=$v
  done
  [[ -n $best ]] || best=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) * 1024 ))
  echo "$best"
}

# The user closes the apps and the extra viewer leaves. The apps are killed through their
# cgroups (cgroup.kill, as root) first: while the user is over its budget the user manager is
# throttled with everything else in it and `systemctl --user` calls wait for minutes (seen).
squeeze_relieve() {
  # (|| true: the spike's subshell has long ended, and under set -e a failed kill ended the
  # whole scenario here, silently)
  if [[ -n ${SPIKE_PID:-} ]]; then kill "$SPIKE_PID" 2>/dev/null || true; wait "$SPIKE_PID" 2>/dev/null || true; fi
  local app
  for app in desktop-browser desktop-mail; do
    echo 1 >"$CG$USER_MGR/app.slice/$app.service/cgroup.kill" 2>/dev/null || true
  done
  mark ramp_end
  viewers "${JF_STREAMS:-2}" "${JF_BUFFER_MB:-16}"
  timeout 60 runuser -u "$TEST_USER" -- env XDG_RUNTIME_DIR=/run/user/$TEST_UID \
    DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$TEST_UID/bus systemctl --user reset-failed >/dev/null 2>&1 || true
}

# Which of the settings that could keep guardian responsive can a user unit use at all here?
# (issue 10: LimitMEMLOCK=, CPUWeight=, IOWeight=, Nice=, MemoryMin=/MemoryLow=). Each is tried on
# a transient user service that prints what it got; the controllers delegated to the user manager
# decide whether a weight reaches the kernel. Written to unit-settings.txt.
squeeze_unit_settings() {
  local f=$OUT/unit-settings.txt p
  {
    echo "user@$TEST_UID.service cgroup.controllers: $(cat "$CG$USER_MGR/cgroup.controllers" 2>/dev/null)"
    echo "user@$TEST_UID.service cgroup.subtree_control: $(cat "$CG$USER_MGR/cgroup.subtree_control" 2>/dev/null)"
    echo "app.slice cgroup.subtree_control: $(cat "$CG$USER_MGR/app.slice/cgroup.subtree_control" 2>/dev/null)"
    echo "memory protection above the user: $(for c in /user.slice /user.slice/user-$TEST_UID.slice $USER_MGR $USER_MGR/app.slice; do printf '%s min=%s low=%s; ' "$c" "$(cat "$CG$c/memory.min" 2>/dev/null)" "$(cat "$CG$c/memory.low" 2>/dev/null)"; done)"
    echo "cgroup2 mount options: $(awk '$3 == "cgroup2" {print $4}' /proc/mounts)"
    for p in LimitMEMLOCK=64M LimitMEMLOCK=infinity CPUWeight=1000 IOWeight=1000 Nice=-5 Nice=5 MemoryMin=32M MemoryLow=32M; do
      out=$(timeout 60 runuser -u "$TEST_USER" -- env XDG_RUNTIME_DIR=/run/user/$TEST_UID \
        DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$TEST_UID/bus systemd-run --user --wait --pipe --quiet \
        --slice=app.slice -p "$p" /bin/sh -c 'cg=/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup); echo "memlock=$(ulimit -l) nice=$(cut -d" " -f19 /proc/self/stat) cpu.weight=$(cat $cg/cpu.weight 2>/dev/null || echo -) io.weight=$(cat $cg/io.weight 2>/dev/null | head -1 || echo -) memory.min=$(cat $cg/memory.min) memory.low=$(cat $cg/memory.low)"' 2>&1)
      echo "$p -> rc=$? $out" | tr '\n' ' '
      echo
    done
  } >"$f" 2>&1
  log "unit settings: $(tr '\n' '|' <"$f" | head -c 600)"
}

# --- Jellyfin's own actions when the whole user runs short (issue 12: JELLYFIN=api) -------------
# JELLYFIN=api in squeeze-baseline / squeeze-guarded runs the stand-in as a quality-minded
# admin's Jellyfin: its memory is its ffmpeg jobs (no Python transcode buffers: JF_BUFFER_MB and
# SPIKE_BUFFER_MB default to 0, so the spike is the third viewer's job alone), EncodingOptions
# with the slow preset and automatic threads (the stand-in's start settings), the trickplay task
# running (JF_TASKS), alice's 1080p Jellyfin Web client and bob's Jellyfin Media Player obeying
# SetMaxStreamingBitrate (JF_OBEYING), the source made by run-scenario.sh from GUARDIAN_VM_MEDIA
# (run-all.sh's squeeze-jellyfin: 1920x1080@15). In squeeze-guarded, guardian runs its default
# policy with one [[jellyfin]] table (the stand-in's URL, key and cgroup), nothing else changed.
squeeze_jellyfin_defaults() {
  [[ ${JELLYFIN:-} == api ]] || return 0
  : "${JF_BUFFER_MB:=0}" "${SPIKE_BUFFER_MB:=0}" "${JF_TASKS:=RefreshTrickplayImages}"
  : "${JF_OBEYING:=Jellyfin Web,Jellyfin Media Player}"
  # The three jobs on a 1080p source and the trickplay ffmpeg hold more than the Python spike of
  # the other squeeze runs: container.slice's own limits above them, so that what binds is the
  # user's budget (the squeeze class), not the slice's MemoryHigh (the incident's class).
  : "${CONTAINER_HIGH:=1000M}" "${CONTAINER_MAX:=1200M}"
  # (under TCG a 1080p job's first segment takes minutes: wait for one, not three)
  : "${WARMUP_SEGMENTS:=1}" "${WARMUP_MAX_S:=300}"
  fact jellyfin_mode api
  fact jellyfin_media "$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height,r_frame_rate \
    -of csv=p=0 "$SHARE/media/source.mkv" 2>/dev/null | awk -F, '{split($3, r, "/"); printf "%sx%s@%g", $1, $2, r[1] / (r[2] ? r[2] : 1)}')"
}

# The stand-in's API key made before guardian reads it (the test user's, mode 600, as the stand-in
# would make it at its first start).
jellyfin_api_key() {
  [[ -s $JF_KEY_FILE ]] && return 0
  u mkdir -p "$(dirname "$JF_KEY_FILE")"
  u sh -c "umask 077 && od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >'$JF_KEY_FILE' && echo >>'$JF_KEY_FILE'"
}

# guardian's policy for JELLYFIN=api: the default policy embedded in this guardian binary
# (`guardian init-policy`) and one [[jellyfin]] table.
jellyfin_policy() {
  local dst=/etc/guardian/policies/default-jellyfin.toml tmp out
  jellyfin_api_key
  mkdir -p /etc/guardian/policies
  tmp=$(u mktemp -d)
  out=$(u env XDG_CONFIG_HOME="$tmp" /usr/local/bin/guardian init-policy 2>&1) \
    || die "guardian init-policy failed: $out"
  # JF_POLICY_VARIANT=cap-at-elevated was the measurement (sqj-s21-g2/g4) that moved cap-bitrate
  # into elevated's list of the default: a guardian whose default has it needs no variant, an older
  # one gets the line added as before.
  case ${JF_POLICY_VARIANT:-} in
    "") ;;
    cap-at-elevated)
      if ! grep -q '^  { type = "jellyfin.cap-bitrate", bitrate = 3000000 },$' "$tmp/guardian/policy.toml"; then
        sed -i 's#^  { type = "jellyfin.pause-background-tasks" },$#&\n  { type = "jellyfin.cap-bitrate", bitrate = 3000000 },#' "$tmp/guardian/policy.toml"
        grep -q '^  { type = "jellyfin.cap-bitrate", bitrate = 3000000 },$' "$tmp/guardian/policy.toml" \
          || die "JF_POLICY_VARIANT=cap-at-elevated: the default policy has no elevated pause-background-tasks line to follow"
      fi
      ;;
    *) die "JF_POLICY_VARIANT must be empty or cap-at-elevated" ;;
  esac
  fact policy_variant "${JF_POLICY_VARIANT:-default}"
  { cat "$tmp/guardian/policy.toml"
    printf '\n# The one addition (JELLYFIN=api): the Jellyfin stand-in.\n[[jellyfin]]\nname = "standin"\n'
    printf 'url = "%s"\napi_key_file = "%s"\ncgroup = "container.slice/jellyfin.service"\n' "$JF_URL" "$JF_KEY_FILE"
  } >"$dst"
  rm -rf "$tmp"
  chmod 644 "$dst"
  cp "$dst" "$OUT/policy.toml"
  out=$(u /usr/local/bin/guardian check-policy "$dst" 2>&1) || die "guardian check-policy rejects $dst: $out"
  printf 'GUARDIAN_ARGS=--policy %s %s\n' "$dst" "${GUARDIAN_EXTRA_ARGS:-}" >/etc/guardian-vm.env
  log "policy: the embedded default + [[jellyfin]] $JF_URL (check-policy: $(head -c 200 <<<"$out"))"
}

# jellyfin_snapshot NAME: what guardian may change and must put back, as Jellyfin answers it —
# EncodingOptions (jellyfin-NAME-encoding.json), the scheduled tasks (jellyfin-NAME-tasks.json) —
# and the stand-in's own view of its jobs and viewers (jellyfin-NAME-state.json).
jellyfin_snapshot() {
  jf GET /System/Configuration/encoding >"$OUT/jellyfin-$1-encoding.json" 2>/dev/null || true
  jf GET /ScheduledTasks >"$OUT/jellyfin-$1-tasks.json" 2>/dev/null || true
  curl -sS -m 30 "$JF_URL/__standin/state" >"$OUT/jellyfin-$1-state.json" 2>/dev/null || true
  mark "jellyfin_snapshot_$1"
  log "jellyfin $1: preset $(jq -r .EncoderPreset "$OUT/jellyfin-$1-encoding.json" 2>/dev/null) threads $(jq -r .EncodingThreadCount "$OUT/jellyfin-$1-encoding.json" 2>/dev/null), trickplay $(jq -r '.[] | select(.Key == "RefreshTrickplayImages") | .State' "$OUT/jellyfin-$1-tasks.json" 2>/dev/null)"
}

# Per-process memory of jellyfin.service every JOBS_TRACE_S (2) s (guest/jobs-trace.py ->
# jobs-trace.jsonl): which ffmpeg an action ended or restarted, and what it held.
jellyfin_trace_start() {
  python3 "$SHARE/guest/jobs-trace.py" "$CG$USER_MGR/container.slice/jellyfin.service" "$OUT/jobs-trace.jsonl" \
    "${JOBS_TRACE_S:-2}" >/dev/null 2>"$OUT/jobs-trace.err" &
  JOBS_TRACE_PID=$!
}
jellyfin_trace_stop() {
  [[ -n ${JOBS_TRACE_PID:-} ]] || return 0
  kill "$JOBS_TRACE_PID" 2>/dev/null || true
  wait "$JOBS_TRACE_PID" 2>/dev/null || true
}
