#!/bin/bash
# Scenario runner inside the VM (guardian-vm-scenario.service, after boot): starts the pressure
# trace and oomctl sampling, runs guest/scenarios/$SCENARIO.sh, exports the journal and the
# dumps into the share's out/ and powers the VM off — whatever happened.
set -uo pipefail
SHARE=/mnt/share
OUT=$SHARE/out
mkdir -p "$OUT"
# shellcheck source=/dev/null
set -a  # exported: the scenario script (a child) reads its --set parameters from the environment
. "$SHARE/scenario.env"
set +a
# shellcheck source=lib.sh
. "$SHARE/guest/lib.sh"
export SHARE OUT SCENARIO

finish() {
  set +e  # (collect whatever can be collected: no step's failure may end the collection)
  log "collecting"
  [[ -n ${trace_pid:-} ]] && kill "$trace_pid" 2>/dev/null
  [[ -n ${oomctl_pid:-} ]] && kill "$oomctl_pid" 2>/dev/null
  [[ -n ${follow_pid:-} ]] && kill "$follow_pid" 2>/dev/null
  # A kprobe trace the scenario started but did not stop (it died, or ran out of time) is
  # still in the kernel's buffer: keep it.
  if [[ ! -f $OUT/charge-trace.txt && -d /sys/kernel/tracing/events/kprobes/gcharge ]]; then
    timeout 20 bash "$SHARE/guest/charge-trace.sh" stop "$OUT/charge-trace.txt"
  fi
  # Every step bounded, and all of them together within COLLECT_S: the host's hard timeout
  # (the scenario's timeout + GUARDIAN_VM_BOOT_MARGIN, 300 s) must also cover a slow boot, so a
  # hung collector may not eat it. journal-follow.json already holds the journal as written.
  local deadline_s=$(( $(date +%s) + ${COLLECT_S:-120} ))
  left() { local l=$(( deadline_s - $(date +%s) )); (( l > 5 )) && echo "$l" || echo 5; }
  timeout "$(left)" journalctl --no-pager -o json >"$OUT/journal.json" 2>"$OUT/journalctl.err"
  timeout "$(left)" journalctl --no-pager -o short-precise >"$OUT/journal.txt" 2>>"$OUT/journalctl.err"
  timeout "$(left)" journalctl --no-pager -o export >"$OUT/journal.export" 2>>"$OUT/journalctl.err"
  timeout 20 oomctl dump >"$OUT/oomctl-after.txt" 2>&1
  log "done; powering off"
  sync
  poweroff_now
}

# backstop NAME DELAY_S [orderly]: DELAY_S from now, power the VM off (first an orderly
# `systemctl poweroff` when asked, then, POWEROFF_GRACE_S later, the kernel directly: sysrq sync +
# power off). A transient system service with DefaultDependencies=no: it is not stopped by the
# shutdown it waits for (no Conflicts=shutdown.target), and it lives outside this runner's cgroup,
# so neither the runner's end nor a runner stuck on a throttled cgroup takes it away.
backstop() {
  local orderly=""
  [[ ${3:-} == orderly ]] && orderly="systemctl poweroff --no-block; sleep ${POWEROFF_GRACE_S:-45};"
  systemd-run --quiet --no-block --unit="guardian-vm-$1" -p DefaultDependencies=no -p OOMScoreAdjust=-1000 \
    /bin/sh -c "sleep $2; echo \"guest $1 reached\" >/dev/console; $orderly echo s >/proc/sysrq-trigger; sleep 2; echo o >/proc/sysrq-trigger" \
    || log "could not start the $1 backstop"
}

# Power off, and make sure it happens: an orderly shutdown stops the user's units, and a unit
# throttled at its budget (or one systemd keeps restarting) can hold it for DefaultTimeoutStopSec
# (90 s) each, or more.
poweroff_now() {
  backstop poweroff-grace "${POWEROFF_GRACE_S:-45}"
  systemctl poweroff --no-block
}

trap finish EXIT

read -r up _ </proc/uptime
echo "userspace_ready_uptime_s=$up" >>"$OUT/facts.env"
log "runner started at uptime ${up}s"
{
  systemd-analyze 2>&1
  echo
  uname -a
  systemctl --version | head -1
  echo "oomd profile: $(cat /etc/guardian-vm-oomd-profile 2>/dev/null)"
  echo
  systemd-analyze cat-config systemd/oomd.conf 2>&1
  echo
  free -m
  nproc
  cat /proc/cmdline
} >"$OUT/system.txt" 2>&1

wait_user_manager
log "user manager of $TEST_USER is up"
# How fast is a software transcode here? (4 s of the stand-in's video, once, for the record)
probe_start=$(date +%s.%N)
u timeout 90 ffmpeg -hide_banner -nostdin -benchmark -f lavfi -i testsrc2=size=320x180:rate=12:duration=4 \
  -c:v libx264 -preset veryfast -threads 1 -f null - >"$OUT/ffmpeg-probe.txt" 2>&1
echo "ffmpeg_probe_rc=$? ffmpeg_probe_wall_s=$(awk "BEGIN {print $(date +%s.%N) - $probe_start}")" >>"$OUT/ffmpeg-probe.txt"
log "ffmpeg probe: $(grep -o 'speed=[^ ]*' "$OUT/ffmpeg-probe.txt" | tail -1)"
# The user slices must exist (and be reported to oomd) before the dump: start nothing yet.
oomctl dump >"$OUT/oomctl-before.txt" 2>&1

python3 "$SHARE/guest/pressure-trace.py" "$OUT/trace.csv" "$TEST_UID" &
trace_pid=$!
# The journal as it is written: a run whose guest hangs (or the host's hard timeout) still
# leaves what happened up to then (analyze.py reads it when journal.json is missing).
journalctl --no-pager -o json -f -n all >"$OUT/journal-follow.json" 2>/dev/null &
follow_pid=$!
(
  while sleep "${OOMCTL_INTERVAL:-10}"; do
    echo "=== $(date -u +%FT%T.%3NZ) uptime=$(cut -d' ' -f1 /proc/uptime)"
    timeout 10 oomctl dump 2>&1
  done
) >"$OUT/oomctl-during.txt" &
oomctl_pid=$!

script=$SHARE/guest/scenarios/$SCENARIO.sh
[[ -f $script ]] || die "no scenario script $script"
# The guest's own deadline, independent of this runner: whatever hangs (the scenario past its
# timeout's KILL, a collector, this shell stuck on a throttled cgroup), the VM powers off
# COLLECT_S + 60 s after the scenario's time is up (the kprobe trace's and oomctl's 20 s each
# on top of the collection's budget), so the host does not have to kill qemu and
# the files written as things happen (scenario.log, journal-follow.json, stall-probe.jsonl) are
# there. The host's hard timeout stays the last resort for a guest whose kernel no longer runs.
backstop deadline $(( ${SCENARIO_TIMEOUT:-600} + 10 + ${COLLECT_S:-120} + 60 )) orderly
mark scenario_start
set +e
# (tee in a process substitution, not a pipeline: a background process the scenario leaves
# behind holds tee's input open, and a pipeline would wait for it forever)
timeout -k 10 "${SCENARIO_TIMEOUT:-600}" bash "$script" > >(tee "$OUT/scenario.log") 2>&1
rc=$?
set -e
mark scenario_end
echo "scenario_rc=$rc" >>"$OUT/facts.env"
log "scenario exited with $rc"
exit 0
