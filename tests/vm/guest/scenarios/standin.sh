#!/bin/bash
# standin: the Jellyfin stand-in as guardian will meet it, without pressure and without guardian.
# timeout: 720
# Checks (checks.txt): jellyfin.service runs in container.slice and its ffmpeg jobs are in its
# cgroup; GET /Sessions (key in the Authorization header) lists the viewers' transcodes with
# TranscodingInfo; the trickplay task runs an ffmpeg and DELETE /ScheduledTasks/Running/{id} stops
# it; a POSTed whole EncodingOptions object (veryfast, 2 threads, CRF 28, queue 1024) reaches the
# jobs that Jellyfin's next segment requests start after the old ones got SIGTERM (what
# jellyfin.respawn-software-transcodes sends); after systemd restarts the service the options are
# still the POSTed ones. Facts: the jobs' Pss and CPU before and after (guest/jobstat.py).
# Parameters (--set): JF_STREAMS (2), SAMPLE_S (45).
set -euo pipefail
# shellcheck source=../lib.sh
. "$SHARE/guest/lib.sh"

JF_CG=$CG$USER_MGR/container.slice/jellyfin.service
ffmpeg_pids() {  # ffmpeg PIDs of a kind (transcode|trickplay) in jellyfin.service's cgroup
  local pid argv
  for pid in $(cat "$JF_CG/cgroup.procs" 2>/dev/null); do
    argv=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
    [[ $argv == *ffmpeg* ]] || continue
    case $1 in
      transcode) [[ $argv == *" -f hls "* ]] && echo "$pid" ;;
      trickplay) [[ $argv == *" -f image2 "*%08d.jpg* ]] && echo "$pid" ;;
    esac
  done
  return 0
}

container_slice
viewers "${JF_STREAMS:-2}" 16
t_jf=$(date +%s)
JF_TASKS=RefreshTrickplayImages start_jellyfin
deadline=$(( t_jf + ${WARMUP_MAX_S:-240} ))
while (( $(segments_since "$t_jf") < 3 && $(date +%s) < deadline )); do sleep 3; done
fact warmup_segments "$(segments_since "$t_jf")"
fact warmup_wait_s "$(( $(date +%s) - t_jf ))"

# 1. The service and its jobs, where the Jellyfin container would be.
cg=$(uctl show -p ControlGroup --value jellyfin.service)
[[ $cg == */container.slice/jellyfin.service ]] && check standin_in_container_slice PASS "$cg" \
  || check standin_in_container_slice FAIL "ControlGroup=$cg"
mapfile -t jobs < <(ffmpeg_pids transcode)
(( ${#jobs[@]} == ${JF_STREAMS:-2} )) && check jobs_in_service_cgroup PASS "transcodes ${jobs[*]} in $JF_CG" \
  || check jobs_in_service_cgroup FAIL "${#jobs[@]} transcode ffmpegs in $JF_CG (want ${JF_STREAMS:-2})"

# 2. The API, as guardian calls it.
code=$(curl -sS -m 30 -o /dev/null -w '%{http_code}' "$JF_URL/Sessions")
[[ $code == 401 ]] && check api_needs_key PASS "GET /Sessions without a key: 401" \
  || check api_needs_key FAIL "GET /Sessions without a key: HTTP $code"
sessions=$(jf GET "/Sessions?activeWithinSeconds=960")
echo "$sessions" >"$OUT/sessions.json"
n=$(jq '[.[] | select(.TranscodingInfo != null and .TranscodingInfo.IsVideoDirect == false)] | length' <<<"$sessions")
paths=$(jq -r '.[] | select(.TranscodingInfo != null) | .NowPlayingItem.Path' <<<"$sessions" | sort | tr '\n' '|')
job_inputs=$(for p in "${jobs[@]}"; do tr '\0' '\n' <"/proc/$p/cmdline" | sed -n 's/^file://p'; done | sort | tr '\n' '|')
if [[ $n == "${JF_STREAMS:-2}" && $paths == "$job_inputs" ]]; then
  check api_sessions PASS "$n transcoding sessions, NowPlayingItem.Path = the jobs' inputs"
else
  check api_sessions FAIL "$n transcoding sessions; paths '$paths' vs job inputs '$job_inputs'"
fi

# 3. Trickplay runs as an ffmpeg; the task stops and starts over the API.
task=$(jf GET /ScheduledTasks | jq -r '.[] | select(.Key=="RefreshTrickplayImages")')
task_id=$(jq -r .Id <<<"$task")
tp=$(ffmpeg_pids trickplay | head -1)
if [[ $(jq -r .State <<<"$task") == Running && -n $tp ]]; then
  jf DELETE "/ScheduledTasks/Running/$task_id"
  sleep 3
  state=$(jf GET "/ScheduledTasks/$task_id" | jq -r .State)
  if [[ ! -e /proc/$tp && $state == Idle ]]; then
    check trickplay_task_stops PASS "trickplay ffmpeg $tp gone, task $state after DELETE"
  else
    check trickplay_task_stops FAIL "after DELETE: ffmpeg $tp $( [[ -e /proc/$tp ]] && echo alive || echo gone), task $state"
  fi
  jf POST "/ScheduledTasks/Running/$task_id"
  sleep 5
  [[ -n $(ffmpeg_pids trickplay) ]] && check trickplay_task_restarts PASS "trickplay ffmpeg again after POST" \
    || check trickplay_task_restarts FAIL "no trickplay ffmpeg after POST"
  jf DELETE "/ScheduledTasks/Running/$task_id"
else
  check trickplay_task_runs FAIL "task state $(jq -r .State <<<"$task"), trickplay ffmpeg '${tp}'"
fi

# 4. What the quality settings cost, then the cheaper ones after a respawn.
sleep 5
python3 "$SHARE/guest/jobstat.py" "$JF_CG" "${SAMPLE_S:-45}" >"$OUT/jobstat-quality.json"
log "quality settings: $(cat "$OUT/jobstat-quality.json")"
options=$(jf GET /System/Configuration/encoding)
[[ $(jq -r .EncoderPreset <<<"$options") == slow ]] || check start_settings FAIL "EncoderPreset $(jq -r .EncoderPreset <<<"$options")"
cheaper=$(jq -c '.EncoderPreset="veryfast" | .EncodingThreadCount=2 | .H264Crf=28 | .MaxMuxingQueueSize=1024' <<<"$options")
code=$(jf_status POST /System/Configuration/encoding "$cheaper")
[[ $code == 204 ]] || check post_encoding FAIL "HTTP $code"
mapfile -t old < <(ffmpeg_pids transcode)
t_kill=$(date +%s.%N)
mark respawn
kill -TERM "${old[@]}"
respawned=()
deadline=$(( $(date +%s) + 300 ))
while (( ${#respawned[@]} < ${#old[@]} && $(date +%s) < deadline )); do
  respawned=()
  for p in $(ffmpeg_pids transcode); do
    [[ " ${old[*]} " == *" $p "* ]] && continue
    argv=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
    [[ $argv == *"-preset veryfast "*"-threads 2 "* || $argv == *"-threads 2 "*"-preset veryfast "* ]] && respawned+=("$p")
  done
  sleep 1
done
t_new=$(awk "BEGIN {printf \"%.1f\", $(date +%s.%N) - $t_kill}")
if (( ${#respawned[@]} == ${#old[@]} )); then
  check respawn_takes_new_settings PASS "${#old[@]} jobs ended by SIGTERM; new jobs ${respawned[*]} with -preset veryfast -threads 2 after ${t_new} s"
else
  check respawn_takes_new_settings FAIL "only ${#respawned[@]} of ${#old[@]} jobs came back with the new settings in ${t_new} s"
fi
fact respawn_new_jobs_after_s "$t_new"
sleep 5
python3 "$SHARE/guest/jobstat.py" "$JF_CG" "${SAMPLE_S:-45}" >"$OUT/jobstat-cheaper.json"
log "cheaper settings: $(cat "$OUT/jobstat-cheaper.json")"
fact pss_quality_mib "$(jq .pss_mib.median "$OUT/jobstat-quality.json")"
fact pss_cheaper_mib "$(jq .pss_mib.median "$OUT/jobstat-cheaper.json")"
fact cpu_quality_cores "$(jq .cpu_cores "$OUT/jobstat-quality.json")"
fact cpu_cheaper_cores "$(jq .cpu_cores "$OUT/jobstat-cheaper.json")"

# 5. Restart=always: the options survive the restart, the viewers come back.
uctl kill -s KILL jellyfin.service
sleep 8
if [[ $(uctl is-active jellyfin.service) == active ]] && sleep 10 && \
   [[ $(jf GET /System/Configuration/encoding | jq -r .EncoderPreset) == veryfast ]]; then
  check options_survive_restart PASS "EncoderPreset veryfast after SIGKILL + Restart=always"
else
  check options_survive_restart FAIL "after SIGKILL: $(uctl is-active jellyfin.service), preset $(jf GET /System/Configuration/encoding | jq -r .EncoderPreset 2>/dev/null)"
fi
stop_workload
mark workload_stopped
