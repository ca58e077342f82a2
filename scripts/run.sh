#!/usr/bin/env bash
# Quick start, command 1: install the build dependencies, build guardian, and run the daemon in
# the foreground on this machine with the embedded default policy. It prints its level and the
# pressure it sees every 5 s; Ctrl-C stops it (reverting anything it did).
# Extra arguments go to `guardian run` (e.g. --dry-run, --policy FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target guardian
exec build/guardian/guardian run "$@"
