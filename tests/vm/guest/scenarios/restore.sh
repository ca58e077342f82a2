#!/bin/bash
# restore: `kill -9` guardian while its actions are applied; restart it; every changed value
# must be back as it was before guardian touched it (from its state file).
# requires: guardian
# timeout: 720
# Checks: actions applied (indexer.service frozen, container.slice MemoryHigh changed); the state
# file holds the originals; after SIGKILL the changes are still there (nothing reverted them);
# after restart a state-restored event and both values equal the originals.
set -euo pipefail
# shellcheck source=../lib.sh
. "$SHARE/guest/lib.sh"

state=/home/$TEST_USER/.local/state/guardian/state.json
use_policy restore.toml
start_indexer
start_guardian
t0=$(date +%s)
WARMUP_S=${WARMUP_S:-10} incident_start
high_before=$(unit_prop container.slice MemoryHigh)
frz_before=$(unit_prop indexer.service FreezerState)
log "before: container.slice MemoryHigh=$high_before, indexer FreezerState=$frz_before"

mark pressure_start
ramp 1
if ! wait_guardian_event "$t0" action-applied 240 '.GUARDIAN_ACTION=="slice.set-memory-high"'; then
  check actions_applied FAIL "no action-applied slice.set-memory-high within 240 s of pressure"
  stop_workload; mark workload_stopped; exit 0
fi
sleep 5
high_during=$(unit_prop container.slice MemoryHigh)
frz_during=$(unit_prop indexer.service FreezerState)
if [[ $high_during != "$high_before" && $frz_during == frozen ]]; then
  check actions_applied PASS "container.slice MemoryHigh $high_before -> $high_during, indexer $frz_during"
else
  check actions_applied FAIL "container.slice MemoryHigh=$high_during (was $high_before), indexer $frz_during"
fi
cp "$state" "$OUT/state-before-kill.json" 2>/dev/null || true
if [[ -s $state ]]; then
  check state_saved PASS "$(jq -c 'keys? // .' "$state" 2>/dev/null | head -c 300)"
else
  check state_saved FAIL "no $state while actions are applied"
fi

pid=$(unit_prop guardian.service MainPID)
mark guardian_killed
uctl kill -s KILL guardian.service
sleep 3
log "guardian.service after SIGKILL: $(uctl is-active guardian.service || true) (was pid $pid)"
high_k=$(unit_prop container.slice MemoryHigh)
frz_k=$(unit_prop indexer.service FreezerState)
if [[ $high_k == "$high_during" && $frz_k == "$frz_during" ]]; then
  check changes_survive_sigkill PASS "still MemoryHigh=$high_k, indexer $frz_k (nothing could revert them)"
else
  check changes_survive_sigkill FAIL "MemoryHigh=$high_k indexer $frz_k right after SIGKILL (expected unchanged)"
fi

relieve 1
log "pressure relieved; waiting ${SETTLE_S:-30}s before restarting guardian"
sleep "${SETTLE_S:-30}"
uctl reset-failed guardian.service >/dev/null 2>&1 || true
t_restart=$(date +%s)
start_guardian
if wait_guardian_event "$t_restart" state-restored 60; then
  check state_restored_event PASS "GUARDIAN_EVENT=state-restored after restart"
else
  check state_restored_event FAIL "no state-restored event within 60 s of the restart"
fi
sleep 5
high_after=$(unit_prop container.slice MemoryHigh)
frz_after=$(unit_prop indexer.service FreezerState)
[[ $high_after == "$high_before" ]] && check memory_high_restored PASS "container.slice MemoryHigh $high_after" \
                                  || check memory_high_restored FAIL "container.slice MemoryHigh=$high_after, was $high_before"
[[ $frz_after == "$frz_before" ]] && check freeze_restored PASS "indexer.service $frz_after" \
                                || check freeze_restored FAIL "indexer.service $frz_after, was $frz_before"
cp "$state" "$OUT/state-after-restart.json" 2>/dev/null || true
stop_workload
mark workload_stopped
uctl stop guardian.service || true
kill_unit indexer.service
