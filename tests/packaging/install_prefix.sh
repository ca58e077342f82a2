#!/usr/bin/env bash
# `cmake --install --prefix ~/.local`: the user units go where the user manager finds them
# ($XDG_DATA_HOME/systemd/user) and ExecStart= names the binary under that prefix, though the
# tree was configured for another prefix.
# Usage: install_prefix.sh BUILD_DIR
set -euo pipefail
build=$1
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
prefix=$home/.local
cmake --install "$build" --prefix "$prefix" >/dev/null
fail=0
unit=$prefix/share/systemd/user/guardian.service
[[ -f $unit ]] || { echo "FAIL: no $unit"; fail=1; }
grep -qx "ExecStart=$prefix/bin/guardian run" "$unit" || { echo "FAIL: ExecStart= is $(grep ExecStart "$unit")"; fail=1; }
grep -qx "Documentation=file://$prefix/share/doc/guardian/units.md" "$unit" || { echo "FAIL: Documentation="; fail=1; }
for f in share/systemd/user/container.slice share/systemd/user/container.slice.d/50-guardian-oomd.conf \
         bin/guardian lib/systemd/catalog/guardian.catalog share/guardian/policies/default.toml; do
  [[ -e $prefix/$f ]] || { echo "FAIL: no $prefix/$f"; fail=1; }
done
[[ ! -e $prefix/lib/systemd/user ]] || { echo "FAIL: units under lib/systemd/user, which the user manager does not read for ~/.local"; fail=1; }
(( fail == 0 )) && echo "install under $prefix ok"
exit $fail
