#!/usr/bin/env bash
# The DEB: unpacked into a scratch root with dpkg -x, its files are exactly layout.txt, the unit
# starts the packaged binary, the binary runs, and Depends (from dpkg-shlibdeps) names the
# libraries guardian links.
# Usage: check_deb.sh PACKAGES_DIR LAYOUT
set -euo pipefail
dir=$1 layout=$2
deb=$(ls "$dir"/guardian_*.deb)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg -x "$deb" "$root"
fail=0
diff -u <(grep -v '^#' "$layout" | sort) <(cd "$root" && find . -type f -o -type l | sed 's|^\.||' | sort) || {
  echo "FAIL: the DEB's files differ from $layout (- expected, + packaged)"; fail=1; }
grep -qx 'ExecStart=/usr/bin/guardian run' "$root/usr/lib/systemd/user/guardian.service" || {
  echo "FAIL: guardian.service does not start /usr/bin/guardian:"; grep ExecStart "$root/usr/lib/systemd/user/guardian.service"; fail=1; }
"$root/usr/bin/guardian" --version | grep -q '^guardian [0-9]' || { echo "FAIL: the packaged binary does not run"; fail=1; }
gzip -t "$root/usr/share/man/man1/guardian.1.gz" || fail=1
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
packages=$(tr ',' '\n' <<<"$depends" | awk '{print $1}')
for package in libc6 libstdc++6 libsystemd0 libsdbus-c++1 libtomlplusplus3 libprometheus-cpp-core1.0 systemd; do
  grep -qxF "$package" <<<"$packages" || { echo "FAIL: Depends lacks $package"; fail=1; }
done
[[ $(dpkg-deb -f "$deb" Package) == guardian ]] || fail=1
(( fail == 0 )) && echo "deb ok: $(basename "$deb")"
exit $fail
