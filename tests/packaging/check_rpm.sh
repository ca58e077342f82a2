#!/usr/bin/env bash
# The RPM: `rpm -qlp` lists exactly layout.txt (no directory of the filesystem or systemd
# packages claimed), and Requires names Fedora's packages.
# Usage: check_rpm.sh PACKAGES_DIR LAYOUT
set -euo pipefail
dir=$1 layout=$2
rpm=$(ls "$dir"/guardian-*.rpm)
fail=0
listed=$(rpm -qlp "$rpm" 2>/dev/null)
# rpm -qlp lists the package's own directories too; the layout lists files.
own_dirs=$(rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpm" 2>/dev/null | awk '$1 ~ /^d/ {print $2}')
diff -u <(grep -v '^#' "$layout" | sort) <(comm -23 <(sort <<<"$listed") <(sort <<<"$own_dirs")) || {
  echo "FAIL: the RPM's files differ from $layout (- expected, + packaged)"; fail=1; }
for claimed in /usr /usr/bin /usr/lib/systemd /usr/lib/systemd/user /usr/share/man/man1 /usr/share/doc /usr/share/zsh/site-functions; do
  if grep -qx "$claimed" <<<"$own_dirs"; then echo "FAIL: the RPM claims $claimed, a directory other packages own"; fail=1; fi
done
requires=$(rpm -qp --requires "$rpm" 2>/dev/null)
echo "Requires: $(tr '\n' ' ' <<<"$requires")"
for package in systemd systemd-libs sdbus-cpp tomlplusplus prometheus-cpp; do
  grep -qx "$package" <<<"$requires" || { echo "FAIL: Requires lacks $package"; fail=1; }
done
if grep -q 'libsdbus-c++.so' <<<"$requires"; then echo "FAIL: Requires carries Debian sonames"; fail=1; fi
(( fail == 0 )) && echo "rpm ok: $(basename "$rpm")"
exit $fail
