#!/bin/bash
# Runs at boot before systemd-oomd, logind and the test user's manager start
# (guardian-vm-early.service): puts the scenario's configuration in place, so nothing needs a
# daemon-reload later (a user-manager reload drops user@UID.service from oomd's set, #43174).
set -euo pipefail
share=/mnt/share
# shellcheck source=/dev/null
. "$share/scenario.env"

if [[ -n ${OOMD_DURATION:-} ]]; then
  # Must sort after Debian's 10-oomd-defaults.conf or it silently does nothing.
  mkdir -p /etc/systemd/oomd.conf.d
  printf '[OOM]\nDefaultMemoryPressureDurationSec=%s\n' "$OOMD_DURATION" \
    >/etc/systemd/oomd.conf.d/99-guardian-vm.conf
  echo "early: oomd DefaultMemoryPressureDurationSec=$OOMD_DURATION"
fi

if [[ -f $share/guardian ]]; then
  install -m755 "$share/guardian" /usr/local/bin/guardian
  args=""
  if [[ -f $share/policies/default.toml ]]; then
    mkdir -p /etc/guardian
    cp -r "$share/policies" /etc/guardian/
    args="--policy /etc/guardian/policies/${GUARDIAN_POLICY:-default.toml}"
  fi
  printf 'GUARDIAN_ARGS=%s %s\n' "$args" "${GUARDIAN_EXTRA_ARGS:-}" >/etc/guardian-vm.env
  # The squeeze scenarios run the unit as shipped unless told otherwise (GUARDIAN_UNIT=test).
  [[ $SCENARIO == squeeze-* ]] && GUARDIAN_UNIT=${GUARDIAN_UNIT:-shipped}
  if [[ ${GUARDIAN_UNIT:-test} == shipped && -f $share/guardian.service.shipped ]]; then
    # units/guardian.service as shipped (watchdog, its own MemoryHigh/MemoryMax, oomd's omit),
    # adapted only where the test bed must: the binary's arguments from the scenario, no restart
    # (a restart would hide a watchdog kill), the same start timeout as the test unit.
    sed -e 's#^ExecStart=.*#EnvironmentFile=/etc/guardian-vm.env\nExecStart=/usr/local/bin/guardian run $GUARDIAN_ARGS#' \
        -e 's#^Restart=.*#Restart=no#' -e 's#^\[Service\]#[Service]\nTimeoutStartSec=60#' \
        "$share/guardian.service.shipped" >/etc/systemd/user/guardian.service
    echo "early: guardian.service as shipped (units/guardian.service), ExecStart/Restart adapted"
  else
    install -D -m644 "$share/guest/units/guardian.service" /etc/systemd/user/guardian.service
  fi
  if [[ -n ${GUARDIAN_UNIT_SET:-} ]]; then
    # Extra [Service] settings for measuring what a unit setting does ('|' between lines), e.g.
    # GUARDIAN_UNIT_SET='LimitMEMLOCK=64M|CPUWeight=1000|Environment=GUARDIAN_TICK_TRACE=1'
    mkdir -p /etc/systemd/user/guardian.service.d
    { echo "[Service]"; tr '|' '\n' <<<"$GUARDIAN_UNIT_SET"; } >/etc/systemd/user/guardian.service.d/50-vm.conf
    echo "early: guardian.service drop-in: $(tr '\n' ' ' </etc/systemd/user/guardian.service.d/50-vm.conf)"
  fi
  if [[ -n ${APP_SLICE_SET:-} ]]; then
    # The same for app.slice, guardian's parent in the user manager (e.g. MemoryMin=: a child's
    # protection counts only as far as its parent's reaches)
    mkdir -p /etc/systemd/user/app.slice.d
    { echo "[Slice]"; tr '|' '\n' <<<"$APP_SLICE_SET"; } >/etc/systemd/user/app.slice.d/50-vm.conf
    echo "early: app.slice drop-in: $(tr '\n' ' ' </etc/systemd/user/app.slice.d/50-vm.conf)"
  fi
  echo "early: guardian installed (/usr/local/bin/guardian run $args ${GUARDIAN_EXTRA_ARGS:-})"
fi

# Per-task delay accounting (blkio delay in /proc/PID/stat), read by the stall probe.
sysctl -q kernel.task_delayacct=1 2>/dev/null || true

hook=$share/guest/scenarios/$SCENARIO.early.sh
if [[ -f $hook ]]; then
  # shellcheck source=/dev/null
  . "$hook"
elif [[ -f $share/helper/guardian-helper ]]; then
  # guardian-helper shipped with another scenario (run-scenario.sh --helper): installed the same way
  # shellcheck source=scenarios/helper.early.sh
  . "$share/guest/scenarios/helper.early.sh"
fi
