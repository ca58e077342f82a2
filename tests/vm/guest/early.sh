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
  install -D -m644 "$share/guest/units/guardian.service" /etc/systemd/user/guardian.service
  echo "early: guardian installed (/usr/local/bin/guardian run $args ${GUARDIAN_EXTRA_ARGS:-})"
fi

hook=$share/guest/scenarios/$SCENARIO.early.sh
if [[ -f $hook ]]; then
  # shellcheck source=/dev/null
  . "$hook"
fi
