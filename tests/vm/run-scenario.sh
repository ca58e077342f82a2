#!/usr/bin/env bash
# Runs one VM test-bed scenario and collects its results.
#
# Usage: tests/vm/run-scenario.sh NAME [--guardian PATH] [--helper PATH] [--policies DIR] [--set KEY=VALUE]...
#                                 [--timeout SECONDS] [--out DIR] [--mem MB] [--smp N]
#                                 [--oomd-profile fedora|debian] [--baseline RUN|FILE]
#   NAME        a scenario in tests/vm/guest/scenarios/NAME.sh (baseline, guarded, systemd, restore,
#               squeeze-baseline, squeeze-guarded, helper)
#   --guardian  the guardian binary to copy into the guest (e.g. build/guardian)
#   --helper    the guardian-helper binary (e.g. build/guardian/helper/guardian-helper); its unit and
#               tmpfiles entry come from units/
#   --policies  policy dir to copy (default: the repo's policies/ if it has files)
#   --set       scenario parameter, passed to the guest (see the scenario script's header)
#   --timeout   the scenario's own time limit inside the guest (default: its "# timeout:" line);
#               the guest powers itself off at most ≈ 210 s after that whatever hangs
#               (run-in-guest.sh's backstops); the host kills its qemu GUARDIAN_VM_BOOT_MARGIN
#               (480) s after it, for a guest whose kernel no longer runs
#   --out       result dir (default tests/vm/out/NAME)
#   --oomd-profile  the image's systemd-oomd rule (build-image.sh): fedora (default; every user
#               slice at 80%) or debian (user@.service at 50%); GUARDIAN_VM_OOMD_PROFILE too
#   --baseline  squeeze-guarded: the squeeze-baseline run (or reference file) its verdict is
#               measured against (default: tests/vm/squeeze-baselines.json, the entry of the same
#               oomd profile and parameters)
# Environment: GUARDIAN_VM_MEDIA=WxH@FPS:SECONDS the Jellyfin stand-in's source (default
#   320x180@12:360; made once on the host, cached in GUARDIAN_VM_MEDIA_CACHE, tests/vm/out/.media)
# Results: OUT/{console.log,scenario.log,journal.json,journal.txt,journal.export,trace.csv,
#          oomctl-*.txt,marks.csv,facts.env,system.txt,result.json,result.md}
# Exit: 0 PASS or SKIP, 1 FAIL, 2 harness or environment error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
die() { echo "run-scenario: error: $*" >&2; exit 2; }
log() { echo "run-scenario: $*" >&2; }

[[ $# -ge 1 && $1 != -* ]] || { sed -n '2,27p' "$0"; exit 2; }
name=$1; shift
guardian=""
helper=""
policies=""
timeout_s=""
out=""
mem=${GUARDIAN_VM_MEM:-2048}
smp=${GUARDIAN_VM_SMP:-2}
profile=${GUARDIAN_VM_OOMD_PROFILE:-fedora}
sets=()
baseline=""
while (($#)); do
  case $1 in
    --guardian) guardian=${2:?}; shift 2 ;;
    --helper) helper=${2:?}; shift 2 ;;
    --policies) policies=${2:?}; shift 2 ;;
    --set) [[ ${2:-} == *=* ]] || die "--set needs KEY=VALUE"; sets+=("$2"); shift 2 ;;
    --timeout) timeout_s=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --mem) mem=${2:?}; shift 2 ;;
    --smp) smp=${2:?}; shift 2 ;;
    --oomd-profile) profile=${2:?}; shift 2 ;;
    --baseline) baseline=${2:?}; shift 2 ;;
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
needs_helper=0
grep -q '^# requires: helper' "$script" && needs_helper=1
if [[ -n $helper ]]; then
  [[ -f $helper ]] || die "--helper $helper: no such file"
elif ((needs_helper)); then
  c=$repo/build/guardian/helper/guardian-helper
  [[ -f $c && -x $c ]] && helper=$c
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
if ((needs_helper)) && [[ -z $helper ]]; then
  echo "SKIP: no guardian-helper binary" | tee "$out/scenario.log"
  python3 "$here/analyze.py" "$out" --scenario "$name" --skip "no guardian-helper binary (build with GUARDIAN_HELPER=ON, or pass --helper PATH)"
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (image cache, qemu with 9p as root)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing: scripts/install-deps.sh --with-vm"
# (the last line: a first build's mkfs.ext4 also prints "Creating regular file …" on stdout)
image=$("$here/build-image.sh" --oomd-profile "$profile" --print-dir | tail -1) || die "image build failed"
[[ -f $image/complete ]] || die "no image at '$image'"

share=$out/share
mkdir -p "$share/out"
chmod 1777 "$share/out"
cp -r "$here/guest" "$share/guest"
# The unit as shipped, for scenarios that run guardian the way a user installs it (early.sh
# adapts only what the test bed needs: GUARDIAN_UNIT=shipped).
cp "$repo/units/guardian.service" "$share/guardian.service.shipped"
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
if [[ -n $helper ]]; then
  mkdir -p "$share/helper"
  cp "$helper" "$share/helper/guardian-helper"
  cp "$repo/units/guardian-helper.service" "$repo/units/guardian-helper.tmpfiles" "$share/helper/"
  log "guardian-helper: $helper"
fi

# One VM at a time on this machine: two TCG guests on 2 cores would each get half the CPU and
# the scenario's timing (oomd's durations are real seconds) would no longer mean anything.
exec 8>"${GUARDIAN_VM_LOCK:-/var/lock/guardian-vm.lock}"
if ! flock -n 8; then
  log "another VM scenario is running; waiting for it (lock ${GUARDIAN_VM_LOCK:-/var/lock/guardian-vm.lock})"
  flock 8
fi
# The margin covers the boot (30 s idle, up to ≈ 170 s at load 15-20), the wait for the user
# manager and the ffmpeg probe before the scenario starts, and the guest's own backstops after
# its timeout (collection ≤ COLLECT_S 120 + 40 s, then 47 s to a forced power-off).
hard_s=$(( timeout_s + ${GUARDIAN_VM_BOOT_MARGIN:-480} ))
# no_timer_check: on a loaded host the emulated CPU is too slow for the kernel's IO-APIC timer
# check, which then panics at boot ("IO-APIC + timer doesn't work", seen at load 21).
log "scenario $name: image $image, ${mem} MiB, $smp vCPU (TCG), hard timeout ${hard_s}s"
start=$(date +%s)
# The host's load while the guest runs (TCG: the guest's speed, and so reclaim's and oomd's
# timing, depends on it): the 1-min load average every 5 s, summed up in facts.env.
( while :; do echo "$(date +%s) $(cut -d' ' -f1 /proc/loadavg)"; sleep 5; done ) >"$out/host-load.txt" 2>/dev/null &
load_pid=$!
set +e
timeout -s KILL "$hard_s" qemu-system-x86_64 \
  -name "guardian-vm-$name" \
  -accel tcg,thread=multi -cpu max -smp "$smp" -m "$mem" \
  -nic none -display none -monitor none -no-reboot \
  -serial "file:$out/console.log" \
  -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
  -append "root=/dev/vda rw console=ttyS0 no_timer_check psi=1 systemd.unified_cgroup_hierarchy=1 panic=-1 quiet systemd.show_status=0" \
  -drive "file=$image/rootfs.img,if=virtio,format=raw,snapshot=on" \
  -virtfs "local,path=$share,mount_tag=share,security_model=none,id=share" \
  >"$out/qemu.log" 2>&1
qemu_rc=$?
set -e
wall=$(( $(date +%s) - start ))
kill "$load_pid" 2>/dev/null; wait "$load_pid" 2>/dev/null || true
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
  echo "oomd_profile=$profile"
  echo "vm_mem_mb=$mem"
  awk 'NR == 1 {min = $2; max = $2} {sum += $2; if ($2 < min) min = $2; if ($2 > max) max = $2}
       END {if (NR) printf "host_load_min=%.1f\nhost_load_mean=%.1f\nhost_load_max=%.1f\n", min, sum / NR, max}' \
    "$out/host-load.txt"
} >>"$out/facts.env"

analyze_args=()
if [[ $name == squeeze-guarded ]]; then
  [[ -z $baseline && -f $here/squeeze-baselines.json ]] && baseline=$here/squeeze-baselines.json
  [[ -n $baseline ]] && analyze_args+=(--baseline "$baseline")
fi
python3 "$here/analyze.py" "$out" --scenario "$name" ${analyze_args[@]+"${analyze_args[@]}"}
