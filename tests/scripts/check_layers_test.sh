#!/usr/bin/env bash
# scripts/check-layers.sh on small trees: it passes a downward include and fails, naming the file
# and line, on an upward one, a folder that is not a stage, and a stage that uses one declared
# after it.
set -euo pipefail
check=$(cd "$(dirname "$0")/../.." && pwd)/scripts/check-layers.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

mkdir -p "$tmp/guardian/common" "$tmp/guardian/sense" "$tmp/guardian/model"
cat >"$tmp/guardian/CMakeLists.txt" <<'CMAKE'
guardian_stage(common)
guardian_stage(sense USES common)
guardian_stage(model USES sense)
CMAKE
printf '#pragma once\n#include <string>\n' >"$tmp/guardian/common/result.h"
printf '#pragma once\n#include "common/result.h"\n' >"$tmp/guardian/sense/psi.h"
printf '#include "sense/psi.h"\n#include "common/result.h"\n#include "model/oomd.h"\n' >"$tmp/guardian/model/oomd.cpp"
printf '#pragma once\n' >"$tmp/guardian/model/oomd.h"
out=$("$check" "$tmp") || fail "a tree with only downward includes was rejected: $out"
[[ $out == *"3 stages"* ]] || fail "unexpected summary: $out"

# sense includes model: upward.
printf '#include "sense/psi.h"\n\n#include "model/oomd.h"\n' >"$tmp/guardian/sense/psi.cpp"
if out=$("$check" "$tmp"); then fail "an upward include passed: $out"; fi
[[ $out == *"guardian/sense/psi.cpp:3: sense may not include model/oomd.h"* ]] || fail "message: $out"
rm "$tmp/guardian/sense/psi.cpp"

# common includes model through nothing: also upward (common uses nothing).
printf '#include "model/oomd.h"\n' >"$tmp/guardian/common/units.cpp"
if out=$("$check" "$tmp"); then fail "common including model passed: $out"; fi
[[ $out == *"common may not include model/oomd.h"* ]] || fail "message: $out"
rm "$tmp/guardian/common/units.cpp"

# A folder that is not a stage.
mkdir -p "$tmp/guardian/extra"
printf '#include "common/result.h"\n' >"$tmp/guardian/extra/x.cpp"
if out=$("$check" "$tmp"); then fail "an undeclared folder passed: $out"; fi
[[ $out == *"guardian/extra/: not a stage"* ]] || fail "message: $out"
rm -r "$tmp/guardian/extra"

# A stage that uses one declared after it (a cycle in the making).
printf 'guardian_stage(common)\nguardian_stage(sense USES model)\nguardian_stage(model USES sense)\n' \
  >"$tmp/guardian/CMakeLists.txt"
if out=$("$check" "$tmp" 2>&1); then fail "a stage using a later one passed: $out"; fi
[[ $out == *"stage sense uses model, which is not declared above it"* ]] || fail "message: $out"
echo "check-layers: every case as expected"
