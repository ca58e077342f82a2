#!/usr/bin/env bash
# Builds (or reuses) the cached Debian 12 root image for the VM test bed.
#
# Usage: tests/vm/build-image.sh [--oomd-profile fedora|debian] [--force] [--print-dir]
#   --oomd-profile  fedora (default): Fedora's systemd-oomd-defaults — every slice in the user
#                   manager and system.slice killed at 80% full avg10, 20 s; Debian's
#                   user@.service 50% drop-in masked.  debian: Debian 12's package defaults.
#   --force         rebuild even if the cache has this image.
#   --print-dir     print only the cache directory of the image on stdout (for other scripts).
#
# Cache: ${GUARDIAN_VM_CACHE:-/var/cache/guardian-vm}/<key>/{rootfs.img,vmlinuz,initrd.img,...}
# key = sha256 of the package list + this script + everything under guest/image/ + the profile,
# so a second run with the same inputs reuses the image. Needs root (mmdebstrap, chroot).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${GUARDIAN_VM_CACHE:-/var/cache/guardian-vm}
mirror=${GUARDIAN_VM_MIRROR:-http://deb.debian.org/debian}
security_mirror=${GUARDIAN_VM_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
suite=bookworm
profile=fedora
force=0
print_dir=0

die() { echo "build-image: error: $*" >&2; exit 2; }
log() { echo "build-image: $*" >&2; }

while (($#)); do
  case $1 in
    --oomd-profile) profile=${2:?--oomd-profile needs fedora or debian}; shift 2 ;;
    --force) force=1; shift ;;
    --print-dir) print_dir=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ $profile == fedora || $profile == debian ]] || die "--oomd-profile must be fedora or debian"
[[ $(id -u) -eq 0 ]] || die "must run as root (mmdebstrap and chroot)"
for tool in mmdebstrap mkfs.ext4 sha256sum; do
  command -v "$tool" >/dev/null || die "'$tool' missing: run scripts/install-deps.sh --with-vm"
done

# What the guest needs. Keep this list sorted by purpose; it is part of the cache key.
packages=(
  # boot, init, cgroup v2, the user manager, oomd
  systemd systemd-sysv systemd-oomd dbus dbus-user-session libpam-systemd udev kmod procps
  linux-image-amd64 attr
  # the incident stand-in: memory hogs, real transcodes, the fake Jellyfin, result tooling
  stress-ng ffmpeg curl python3 jq
  # guardian's runtime libraries (what `ldd build/guardian` shows on Debian 12)
  libsystemd0 libsdbus-c++1 libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0
  libtomlplusplus3 libcpp-httplib0.11 libstdc++6
  # guardian-helper's (ldd build/guardian/helper/guardian-helper: libbpf1 brings libelf1)
  libbpf1
)
if [[ -n ${GUARDIAN_VM_EXTRA_PACKAGES:-} ]]; then
  read -r -a extra <<<"$GUARDIAN_VM_EXTRA_PACKAGES"
  packages+=("${extra[@]}")
fi

key=$( {
  printf '%s\n' "${packages[@]}" "profile=$profile" "mirror=$mirror" "suite=$suite"
  cat "${BASH_SOURCE[0]}"
  find "$here/guest/image" -type f -print0 | sort -z | xargs -0 sha256sum | sed "s#  $here/#  #"
} | sha256sum | cut -c1-16)
dir=$cache_root/$key

if [[ $force -eq 0 && -f $dir/complete ]]; then
  log "reusing cached image $dir"
  [[ $print_dir -eq 1 ]] && echo "$dir"
  exit 0
fi

mkdir -p "$cache_root"
exec 9>"$cache_root/.lock"
flock 9
# Another run may have built this image while this one waited for the lock: reuse it (going on
# would delete the image just built and build it again, 10-20 min on a loaded host, seen).
if [[ $force -eq 0 && -f $dir/complete ]]; then
  log "reusing cached image $dir (built while this run waited for the lock)"
  [[ $print_dir -eq 1 ]] && echo "$dir"
  exit 0
fi
start=$(date +%s)
log "building image $key (profile $profile) in $dir"
rm -rf "$dir"
mkdir -p "$dir"
root=$dir/root
trap 'rm -rf "$root"' EXIT

comma_list=$(IFS=,; echo "${packages[*]}")
mmdebstrap --variant=minbase --mode=root --format=directory \
  --include="$comma_list" \
  --aptopt='Acquire::Retries "3"' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  "$suite" "$root" \
  "deb $mirror $suite main" \
  "deb $mirror $suite-updates main" \
  "deb $security_mirror $suite-security main" \
  >"$dir/mmdebstrap.log" 2>&1 || { tail -30 "$dir/mmdebstrap.log" >&2; die "mmdebstrap failed (log: $dir/mmdebstrap.log)"; }

# --- configure the guest -------------------------------------------------------------------
cp -a "$here/guest/image/rootfs/." "$root/"
echo guardian-vm >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 guardian-vm\n' >"$root/etc/hosts"
: >"$root/etc/machine-id"                 # regenerated at first boot (each boot: snapshot=on)
chroot "$root" passwd -d root >/dev/null  # serial console login for debugging, no password
chroot "$root" useradd --create-home --uid 1000 --user-group --shell /bin/bash tester
mkdir -p "$root/var/lib/systemd/linger"
: >"$root/var/lib/systemd/linger/tester"  # lingering: user@1000.service starts at boot
mkdir -p "$root/mnt/share"

# oomd profile
if [[ $profile == fedora ]]; then
  # Fedora's systemd-oomd-defaults (systemd.spec Source14/15): 20 s; 80% on every user-manager
  # slice and on system.slice. Fedora does not ship Debian's user@.service 50% rule: mask it.
  install -D -m644 /dev/stdin "$root/usr/lib/systemd/user/slice.d/10-oomd-per-slice-defaults.conf" <<'CONF'
[Slice]
ManagedOOMMemoryPressure=kill
ManagedOOMMemoryPressureLimit=80%
CONF
  install -D -m644 "$root/usr/lib/systemd/user/slice.d/10-oomd-per-slice-defaults.conf" \
    "$root/usr/lib/systemd/system/system.slice.d/10-oomd-per-slice-defaults.conf"
  mkdir -p "$root/etc/systemd/system/user@.service.d"
  ln -sf /dev/null "$root/etc/systemd/system/user@.service.d/10-oomd-user-service-defaults.conf"
fi
# (Debian's /usr/lib/systemd/oomd.conf.d/10-oomd-defaults.conf already says 20 s, as Fedora's.)
echo "$profile" >"$root/etc/guardian-vm-oomd-profile"

# Units: the early hook (before oomd and the user manager) and the scenario runner.
systemctl --root="$root" enable guardian-vm-early.service guardian-vm-scenario.service >/dev/null 2>&1
systemctl --root="$root" set-default multi-user.target >/dev/null 2>&1
# Nothing that wakes up on its own and competes for the 2 emulated CPUs.
for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
         systemd-tmpfiles-clean.timer dpkg-db-backup.timer man-db.timer; do
  systemctl --root="$root" mask "$u" >/dev/null 2>&1 || true
done
systemctl --root="$root" enable systemd-oomd.service >/dev/null 2>&1

# Kernel and initrd next to the image.
vmlinuz=$(ls "$root"/boot/vmlinuz-* | sort -V | tail -1)
initrd=$(ls "$root"/boot/initrd.img-* | sort -V | tail -1)
[[ -f $vmlinuz && -f $initrd ]] || die "no kernel/initrd in the image"
cp "$vmlinuz" "$dir/vmlinuz"
cp "$initrd" "$dir/initrd.img"
chroot "$root" dpkg-query -W -f='${Package} ${Version}\n' >"$dir/packages.txt"

# ext4 image from the directory, no loop mount. Free space for the scenario's files.
used_mb=$(du -sm "$root" | cut -f1)
size_mb=$(( used_mb + used_mb / 4 + 512 ))
# (to stderr: mkfs.ext4 -d says "Creating regular file …" even with -q, and --print-dir's caller
# reads stdout)
mkfs.ext4 -q -L guardian-vm -d "$root" "$dir/rootfs.img" "${size_mb}M" >&2 \
  || die "mkfs.ext4 -d failed"

secs=$(( $(date +%s) - start ))
{
  echo "key=$key"
  echo "profile=$profile"
  echo "build_seconds=$secs"
  echo "kernel=$(basename "$vmlinuz")"
  echo "size_mb=$size_mb"
} >"$dir/complete"
ln -sfn "$key" "$cache_root/latest-$profile"
log "done in ${secs}s: $dir (rootfs ${size_mb} MB, $(basename "$vmlinuz"))"
[[ $print_dir -eq 1 ]] && echo "$dir"
exit 0
