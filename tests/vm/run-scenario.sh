#!/usr/bin/env bash
# Runs one VM test-bed scenario and collects its results.
#
# Usage: tests/vm/run-scenario.sh NAME [--guardian PATH] [--policies DIR] [--set KEY=VALUE]...
#                                 [--timeout SECONDS] [--out DIR] [--mem MB] [--smp N]
#   NAME        a scenario in tests/vm/guest/scenarios/NAME.sh (baseline, guarded, systemd, restore)
#   --guardian  the guardian binary to copy into the guest (e.g. build/guardian)
#   --policies  policy dir to copy (default: the repo's policies/ if it has files)
#   --set       scenario parameter, passed to the guest (see the scenario script's header)
#   --timeout   the scenario's own time limit inside the guest (default: its "# timeout:" line);
#               the host kills its qemu GUARDIAN_VM_BOOT_MARGIN (300) s after that
#   --out       result dir (default tests/vm/out/NAME)
# Results: OUT/{console.log,scenario.log,journal.json,journal.txt,journal.export,trace.csv,
#          oomctl-*.txt,marks.csv,facts.env,system.txt,result.json,result.md}
# Exit: 0 PASS or SKIP, 1 FAIL, 2 harness or environment error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
die() { echo "run-scenario: error: $*" >&2; exit 2; }
log() { echo "run-scenario: $*" >&2; }

[[ $# -ge 1 && $1 != -* ]] || { sed -n '2,16p' "$0"; exit 2; }
name=$1; shift
guardian=""
policies=""
timeout_s=""
out=""
mem=${GUARDIAN_VM_MEM:-2048}
smp=${GUARDIAN_VM_SMP:-2}
sets=()
while (($#)); do
  case $1 in
    --guardian) guardian=${2:?}; shift 2 ;;
    --policies) policies=${2:?}; shift 2 ;;
    --set) [[ ${2:-} == *=* ]] || die "--set needs KEY=VALUE"; sets+=("$2"); shift 2 ;;
    --timeout) timeout_s=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --mem) mem=${2:?}; shift 2 ;;
    --smp) smp=${2:?}; shift 2 ;;
    *) die "unknown argument '$1'" ;;
  esac
done

script=$here/guest/scenarios/$name.sh
[[ -f $script ]] || die "no scenario '$name' (have: $(cd "$here/guest/scenarios" && ls ./*.sh | sed 's#./##; s#\.sh$##' | grep -v early | tr '\n' ' '))"
[[ -z $timeout_s ]] && timeout_s=$(sed -n 's/^# timeout: *\([0-9]*\).*/\1/p' "$script" | head -1)
timeout_s=${timeout_s:-600}
out=${out:-$here/out/$name}
needs_guardian=0
grep -q '^# requires: guardian' "$script" && needs_guardian=1

if [[ -n $guardian ]]; then
  [[ -f $guardian ]] || die "--guardian $guardian: no such file"
elif ((needs_guardian)); then
  for c in "$repo/build/guardian" "$repo/build/guardian/guardian"; do
    [[ -f $c && -x $c ]] && { guardian=$c; break; }
  done
fi
if [[ -z $policies && -d $repo/policies ]] && compgen -G "$repo/policies/*.toml" >/dev/null; then
  policies=$repo/policies
fi

rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)

if ((needs_guardian)) && [[ -z $guardian ]]; then
  echo "SKIP: no guardian binary" | tee "$out/scenario.log"
  python3 "$here/analyze.py" "$out" --scenario "$name" --skip "no guardian binary (build it, or pass --guardian PATH)"
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (image cache, qemu with 9p as root)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing: scripts/install-deps.sh --with-vm"
image=$("$here/build-image.sh" --print-dir) || die "image build failed"

share=$out/share
mkdir -p "$share/out"
chmod 1777 "$share/out"
cp -r "$here/guest" "$share/guest"
# The Jellyfin stand-in serves the unit tests' fake Jellyfin payloads, and transcodes a source made
# here (seconds on the host, minutes under TCG): 320x180@12, no audio (TCG's soft-float AAC was
# slower than the video), 6 minutes (Jellyfin throttles and deletes segments only for items >= 5 min).
cp -r "$repo/tests/support/fake_jellyfin/fixtures" "$share/jellyfin-fixtures"
media_spec=${GUARDIAN_VM_MEDIA:-320x180@12:360}
media_cache=${GUARDIAN_VM_MEDIA_CACHE:-$here/out/.media}
mkdir -p "$media_cache"
media_file=$media_cache/source-${media_spec//[^0-9a-z]/_}.mkv
(cd "$here/guest" && python3 -m jellyfin_standin.media "$media_file" "$media_spec") || die "could not make the source $media_spec"
mkdir -p "$share/media"
cp "$media_file" "$share/media/source.mkv"
{
  echo "SCENARIO=$name"
  echo "SCENARIO_TIMEOUT=$timeout_s"
  for kv in ${sets[@]+"${sets[@]}"}; do printf '%s=%q\n' "${kv%%=*}" "${kv#*=}"; done
} >"$share/scenario.env"
if [[ -n $guardian ]]; then
  cp "$guardian" "$share/guardian"
  log "guardian: $guardian ($(ldd "$guardian" 2>/dev/null | awk '/=>/ {print $1}' | tr '\n' ' '))"
fi
[[ -n $policies ]] && cp -r "$policies" "$share/policies"

# One VM at a time on this machine: two TCG guests on 2 cores would each get half the CPU and
# the scenario's timing (oomd's durations are real seconds) would no longer mean anything.
exec 8>"${GUARDIAN_VM_LOCK:-/var/lock/guardian-vm.lock}"
if ! flock -n 8; then
  log "another VM scenario is running; waiting for it (lock ${GUARDIAN_VM_LOCK:-/var/lock/guardian-vm.lock})"
  flock 8
fi
hard_s=$(( timeout_s + ${GUARDIAN_VM_BOOT_MARGIN:-300} ))
log "scenario $name: image $image, ${mem} MiB, $smp vCPU (TCG), hard timeout ${hard_s}s"
start=$(date +%s)
set +e
timeout -s KILL "$hard_s" qemu-system-x86_64 \
  -name "guardian-vm-$name" \
  -accel tcg,thread=multi -cpu max -smp "$smp" -m "$mem" \
  -nic none -display none -monitor none -no-reboot \
  -serial "file:$out/console.log" \
  -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
  -append "root=/dev/vda rw console=ttyS0 psi=1 systemd.unified_cgroup_hierarchy=1 panic=-1 quiet systemd.show_status=0" \
  -drive "file=$image/rootfs.img,if=virtio,format=raw,snapshot=on" \
  -virtfs "local,path=$share,mount_tag=share,security_model=none,id=share" \
  >"$out/qemu.log" 2>&1
qemu_rc=$?
set -e
wall=$(( $(date +%s) - start ))
if [[ $qemu_rc -eq 137 ]]; then
  log "hard timeout: qemu killed after ${hard_s}s"
fi
mv "$share/out/"* "$out/" 2>/dev/null || true
rm -rf "$share"
{
  echo "host_wall_s=$wall"
  echo "qemu_rc=$qemu_rc"
  echo "image=$(basename "$image")"
  echo "image_build_seconds=$(sed -n 's/^build_seconds=//p' "$image/complete")"
} >>"$out/facts.env"

python3 "$here/analyze.py" "$out" --scenario "$name"
