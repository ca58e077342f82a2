#!/bin/bash
# squeeze-guarded: squeeze-baseline with guardian running as the test user's service, in the
# same user manager and under the same budget (issue 10). GUARDIAN_UNIT=shipped (default here)
# installs units/guardian.service as shipped (early.sh adapts ExecStart and Restart only);
# POLICY=default runs the repo's policies/default.toml (its [container_slice] included),
# POLICY=matched guest/policies/squeeze-matched.toml (the same ladder, [container_slice] equal to
# the slice's own limits). The workload runs HOLD_S past its start whatever happens (no early
# stop on a kill: what guardian does after oomd's kill is part of the record), and at least
# HOLD_AFTER_BUDGET_S past the moment the user reached its budget (squeeze_hold), then is relieved.
# requires: guardian
# timeout: 1000
# Analysed against squeeze-baseline of the same profile and parameters (summarize.py): the first
# climb's time before the baseline's kill, pressure onset with and without guardian, guardian's
# tick lateness (its timerfd's unread expirations, from stall-probe.jsonl). With
# `run-scenario.sh --helper PATH`, guardian-helper runs beside it as a system service (helper_events.py).
# Parameters (--set): as squeeze-baseline, plus POLICY (default|matched), HOLD_S (150),
# HOLD_AFTER_BUDGET_S (60), BUDGET_WAIT_MAX_S (300), COOLDOWN_S (30), GUARDIAN_UNIT (shipped|test), GUARDIAN_UNIT_SET, PROBE_UNIT_SETTINGS (1: which
# unit settings a user unit can use, unit-settings.txt), TRACE_CHARGES (1: kprobes on
# guardian's loop thread, charge-trace.sh -> charge-trace.txt), JELLYFIN (api: as
# squeeze-baseline's, and guardian runs its embedded default policy plus one [[jellyfin]] table;
# after the relief the run waits up to RESTORE_WAIT_S (240) for guardian to be back at normal,
# RESTORE_SETTLE_S (15) more, then records EncodingOptions and the tasks again to compare them
# with the start, field by field); JF_POLICY_VARIANT (cap-at-elevated: the default plus
# cap-bitrate 3 Mbit/s at elevated, a measurement of what the default lacks).
set -euo pipefail
# shellcheck source=../lib.sh
. "$SHARE/guest/lib.sh"

squeeze_jellyfin_defaults
case ${POLICY:-default} in
  default)  # early.sh: --policy /etc/guardian/policies/default.toml (the repo's default)
    [[ ${JELLYFIN:-} == api ]] && jellyfin_policy ;;
  matched) use_policy squeeze-matched.toml ;;
  *) die "POLICY must be default or matched" ;;
esac
fact policy "${POLICY:-default}"
# How many [[jellyfin]] tables the policy guardian runs has: squeeze.py requires the stand-in's
# survival only when there is one (without, nothing guardian does frees memory on Debian's rule).
policy_file=$(sed -n 's/^GUARDIAN_ARGS=.*--policy \([^ ]*\).*/\1/p' /etc/guardian-vm.env 2>/dev/null || true)
fact policy_jellyfin "$(grep -cE '^[[:space:]]*\[\[jellyfin\]\]' "${policy_file:-/etc/guardian/policies/default.toml}" 2>/dev/null || true)"
squeeze_start_probe
squeeze_setup
[[ ${PROBE_UNIT_SETTINGS:-1} == 1 ]] && squeeze_unit_settings
# guardian-helper shipped with the run (run-scenario.sh --helper, installed by helper.early.sh): a
# root client records every event it relays (root sees all users'), to show they arrive while the
# user runs short (helper_events.py); guardian itself finds the helper's socket and uses it.
helper_client_pid=""
if [[ -x /usr/local/libexec/guardian/guardian-helper ]]; then
  fact helper 1
  # installed, as `cmake --install` does, but not enabled: started here as a user would
  if systemctl start guardian-helper.service; then
    check helper_started PASS "pid $(systemctl show -p MainPID --value guardian-helper.service)"
  else
    check helper_started FAIL "systemctl start guardian-helper failed: $(systemctl status guardian-helper.service --no-pager -l 2>&1 | tail -3 | tr '\n' ' ')"
  fi
  python3 "$SHARE/guest/helper-client.py" --out "$OUT/helper-root.log" </dev/null >/dev/null 2>>"$OUT/helper-clients.err" &
  helper_client_pid=$!
fi
start_guardian
if [[ ${TRACE_CHARGES:-1} == 1 ]]; then
  bash "$SHARE/guest/charge-trace.sh" start "$(uctl show -p MainPID --value guardian.service)" || true
fi
guardian_snapshot idle
squeeze_serve
[[ ${JELLYFIN:-} == api ]] && jellyfin_snapshot start
t0=$(date +%s)
squeeze_ramp
mark pressure_start
squeeze_hold "$t0"
guardian_snapshot peak
log "workload held $(( $(date +%s) - t0 ))s: $(oomd_kills_since "$t0" | wc -l) oomd kills, $(segments_since "$t0") segments"
squeeze_relieve
sleep "${COOLDOWN_S:-30}"
if [[ ${JELLYFIN:-} == api ]]; then
  # what guardian put back once the episode was over: its level back at normal, then the
  # reverts' requests answered
  t_relief=$(date +%s)
  if wait_guardian_level normal "${RESTORE_WAIT_S:-240}"; then
    mark guardian_normal_again
    fact back_to_normal_after_relief_s "$(( $(date +%s) - t_relief + ${COOLDOWN_S:-30} ))"
    # what it could not put back while Jellyfin did not answer is retried once it does: the
    # rest of RESTORE_WAIT_S for that, and how long it took
    t_normal=$(date +%s)
    if wait_jellyfin_restored $(( ${RESTORE_WAIT_S:-240} - (t_normal - t_relief) > 0 ? ${RESTORE_WAIT_S:-240} - (t_normal - t_relief) : 0 )); then
      mark jellyfin_restored
      fact jellyfin_restored_after_normal_s "$(( $(date +%s) - t_normal ))"
    else
      log "guardian's state file still holds Jellyfin entries ${RESTORE_WAIT_S:-240}s after the cool-down"
    fi
  else
    log "guardian not back at normal ${RESTORE_WAIT_S:-240}s after the cool-down"
  fi
  sleep "${RESTORE_SETTLE_S:-15}"
  jellyfin_snapshot end
fi
guardian_snapshot end
if uctl is-active --quiet guardian.service; then
  check guardian_alive PASS "guardian.service still active"
else
  check guardian_alive FAIL "guardian.service is $(uctl is-active guardian.service) ($(uctl show -p Result --value guardian.service))"
fi
stop_workload
mark workload_stopped
uctl stop guardian.service || true
if [[ -n $helper_client_pid ]]; then
  kill "$helper_client_pid" 2>/dev/null || true
  journalctl -q --no-pager -o short-monotonic -u guardian-helper.service >"$OUT/helper-journal.txt" 2>&1 || true
fi
[[ ${TRACE_CHARGES:-1} == 1 ]] && bash "$SHARE/guest/charge-trace.sh" stop "$OUT/charge-trace.txt"
jellyfin_trace_stop
squeeze_stop_probe
