#!/usr/bin/env bash
# Installs every package guardian needs to build and test on a fresh Debian 12 (bookworm).
# Usage: scripts/install-deps.sh [--with-vm]   (as root, or via sudo)
#   --with-vm  also installs what the qemu VM test bed (tests/vm/) needs.
# Fedora names for the same set are listed in README.md ("Dependencies").
set -euo pipefail

build_and_test=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang-14 libclang-rt-14-dev
  clang-format clang-tidy valgrind ccache
  # the daemon's libraries
  libsystemd-dev libsdbus-c++-dev libsdbus-c++-bin libtomlplusplus-dev
  prometheus-cpp-dev nlohmann-json3-dev libcpp-httplib-dev
  # the probe's libraries (only `guardian probe` maps these)
  libva-dev libavcodec-dev libavformat-dev libavutil-dev
  # BPF (the optional privileged relay)
  libbpf-dev bpftool
  # tests
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  systemd dbus ffmpeg prometheus jq python3 curl hyperfine
  libcurl4-openssl-dev
  # `guardian events` tests: a journald whose clock the test sets (libfaketime)
  faketime
  # man pages (scdoc at build time; man-db renders them in a test)
  scdoc man-db groff-base
  # packages: CPack's DEB (dpkg-shlibdeps needs `file`) and RPM (rpmbuild), completions' syntax test
  dpkg-dev file rpm zsh
)
vm=(qemu-system-x86 qemu-utils mmdebstrap e2fsprogs linux-image-amd64 zstd)

pkgs=("${build_and_test[@]}")
[[ "${1:-}" == "--with-vm" ]] && pkgs+=("${vm[@]}")

SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO=sudo
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: all ${#pkgs[@]} packages present" >&2
