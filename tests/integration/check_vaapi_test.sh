#!/usr/bin/env bash
# scripts/check-vaapi.sh: its probe summary from a recorded probe (the success path, from
# tests/fixtures/jellyfin/vaapi-probe-intel-uhd630.json, and the failure path, from this machine's
# real probe when there is no GPU), and its clear failure on a machine without /dev/dri.
# Usage: check_vaapi_test.sh GUARDIAN_BINARY
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
guardian=${1:?guardian binary}
script=$repo/scripts/check-vaapi.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
expect() {  # expect NAME RC PATTERN COMMAND...
  local name=$1 want=$2 pattern=$3; shift 3
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [[ $rc -ne $want ]] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL $name: exit $rc (want $want), output lacks /$pattern/:"; echo "$out" | sed 's/^/  /'
    failures=$((failures + 1))
  else
    echo "ok   $name"
  fi
}

expect "a recorded Intel probe is confirmed" 0 \
  'CONFIRMED: VA-API available.*' \
  "$script" --explain-probe "$repo/tests/fixtures/jellyfin/vaapi-probe-intel-uhd630.json"
expect "the recorded probe's codecs reach the stand-in's settings" 0 \
  '"HardwareDecodingCodecs": \["h264", "hevc", "mpeg2video", "vc1", "vp8", "vp9"\]' \
  "$script" --explain-probe "$repo/tests/fixtures/jellyfin/vaapi-probe-intel-uhd630.json"
"$guardian" probe vaapi --json --device /dev/null >"$tmp/null-probe.json"
expect "a probe of a node that is no GPU is not confirmed" 1 \
  'NOT CONFIRMED: VA-API not available' "$script" --explain-probe "$tmp/null-probe.json"
if compgen -G "/dev/dri/renderD*" >/dev/null; then
  echo "skip the no-GPU case: this machine has a render node"
else
  expect "no /dev/dri fails clearly" 1 'FAIL: this machine has no GPU render node \(no /dev/dri/renderD\*\)' \
    "$script" --guardian "$guardian"
fi
exit $((failures > 0))
