#!/usr/bin/env bash
# `cmake --install` of a build into a scratch DESTDIR: guardian, its user unit, and (when the
# build has GUARDIAN_HELPER) guardian-helper with its system unit pointing at the installed
# binary and the tmpfiles entry for systemd-oomd's hook directory, plus docs/helper.md.
# Usage: tests/scripts/install_test.sh BUILD_DIR HELPER(ON|OFF)
set -euo pipefail
build=${1:?build dir}
helper=${2:?ON or OFF}
fail() { echo "FAIL: $*"; exit 1; }
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
DESTDIR=$dest cmake --install "$build" >"$dest/install.log" || { cat "$dest/install.log"; fail "cmake --install"; }
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
libexec=$(sed -n 's/^CMAKE_INSTALL_LIBEXECDIR:PATH=//p' "$build/CMakeCache.txt")
[[ $libexec == /* ]] || libexec=$prefix/$libexec
root=$dest$prefix
[[ -x $root/bin/guardian ]] || fail "no $prefix/bin/guardian"
if [[ $helper != ON ]]; then
  [[ ! -e $dest$libexec/guardian/guardian-helper ]] || fail "guardian-helper installed without GUARDIAN_HELPER"
  echo "install: guardian only (GUARDIAN_HELPER=OFF)"
  exit 0
fi
bin=$dest$libexec/guardian/guardian-helper
[[ -x $bin ]] || fail "no $libexec/guardian/guardian-helper"
unit=$(find "$dest" -name guardian-helper.service -path '*/systemd/system/*')
[[ -n $unit ]] || fail "no guardian-helper.service under a systemd/system directory"
grep -qx "ExecStart=$libexec/guardian/guardian-helper" "$unit" || fail "ExecStart= not the installed binary: $(grep ExecStart= "$unit")"
grep -q '^CapabilityBoundingSet=CAP_BPF CAP_PERFMON CAP_SYS_RESOURCE$' "$unit" || fail "capabilities changed"
tmpfiles=$(find "$dest" -name guardian-helper.conf -path '*/tmpfiles.d/*')
[[ -n $tmpfiles ]] || fail "no tmpfiles.d/guardian-helper.conf"
grep -q '^d /run/systemd/oomd.prekill.hook 0755 root root' "$tmpfiles" || fail "tmpfiles entry: $(cat "$tmpfiles")"
[[ -n $(find "$dest" -name helper.md -path '*/doc/*') ]] || fail "no docs/helper.md installed"
echo "install: guardian, guardian-helper ($libexec/guardian), ${unit#"$dest"}, ${tmpfiles#"$dest"}"
