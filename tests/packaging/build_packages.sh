#!/usr/bin/env bash
# Builds the DEB and the RPM with CPack from a built tree, into OUT (the packaging checks read them).
# Usage: build_packages.sh BUILD_DIR OUT
set -euo pipefail
build=$1 out=$2
rm -rf "$out" && mkdir -p "$out"
cpack --config "$build/CPackConfig.cmake" -G "DEB;RPM" -B "$out" >"$out/cpack.log" 2>&1 || {
  cat "$out/cpack.log"; exit 1; }
ls "$out"/*.deb "$out"/*.rpm
