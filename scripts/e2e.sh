#!/usr/bin/env bash
# End-to-end tests in a qemu VM (tests/vm/): every scenario, summary in tests/vm/out/summary.md.
# Usage: scripts/e2e.sh [--repeat N] [--only NAME,…]   (root; installs the VM packages first)
# Uses the guardian binary of the build (build/guardian/guardian) when it exists; without it the
# guardian scenarios are SKIPped. Pass --guardian PATH to use another.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/install-deps.sh" --with-vm
exec "$repo/tests/vm/run-all.sh" "$@"
