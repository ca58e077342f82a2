#!/usr/bin/env bash
# Confirms guardian's VA-API path on a machine with an Intel or AMD GPU, in one command:
#   1. `guardian probe vaapi`: render node, your access to it, libva (driver, profiles,
#      entrypoints), FFmpeg's VA-API device and encoders;
#   2. `guardian doctor`: what it says about this machine;
#   3. one hardware transcode: the Jellyfin stand-in (tests/vm/guest/fake-jellyfin.py) set to
#      VA-API (HardwareAccelerationType vaapi, hardware encoding on, the codecs the probe found)
#      plays a generated 1080p file to two clients; both ffmpeg jobs must decode with -hwaccel
#      vaapi, encode with h264_vaapi and write HLS segments that ffprobe reads as H.264.
# It prints what it confirmed and what it did not, and keeps a record (probe JSON, doctor output,
# the jobs' command lines and ffmpeg logs) to send back: the probe JSON is a ready fixture for
# tests/fixtures/jellyfin/ (the unit tests' success path of the probe runs from such a file).
#
# Usage: scripts/check-vaapi.sh [--guardian PATH] [--device /dev/dri/renderD128] [--record DIR]
#        scripts/check-vaapi.sh --explain-probe FILE   (only step 1's summary, from a saved probe)
# Needs: a built guardian (build/guardian/guardian or on PATH), ffmpeg, ffprobe, python3; no root.
# Exit: 0 everything confirmed, 1 something not confirmed (the output says what), 2 usage.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
guardian=""
device=/dev/dri/renderD128
record=""
explain=""
while (($#)); do
  case $1 in
    --guardian) guardian=${2:?}; shift 2 ;;
    --device) device=${2:?}; shift 2 ;;
    --record) record=${2:?}; shift 2 ;;
    --explain-probe) explain=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "check-vaapi: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

# The probe's JSON (guardian probe vaapi --json) -> what it confirms, one line each; exit 1 when
# VA-API is not available. Also prints the EncodingOptions fields for the stand-in on its last line.
summarize_probe() {
  python3 - "$1" "$device" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
node = p.get("render_node", {})
va = p.get("libva", {})
ff = p.get("ffmpeg", {})
ok = bool(p.get("available"))
print(f"  render node {node.get('path')}: {'opens' if node.get('openable') else 'does NOT open'} "
      f"(group {node.get('group')}, {'you are in it' if node.get('user_in_group') else 'you are NOT in it'})")
if va.get("initialized"):
    print(f"  libva {va.get('version')}: {va.get('vendor')}")
else:
    print("  libva: NOT initialised")
print(f"  FFmpeg VA-API device {'created' if ff.get('hwdevice') else 'NOT created'}; encoders: "
      f"{', '.join(ff.get('vaapi_encoders') or []) or 'none'}")
print(f"  the GPU decodes: {', '.join(p.get('HardwareDecodingCodecs') or []) or 'nothing Jellyfin uses'}")
print(f"  the GPU encodes: {', '.join(p.get('hardware_encoding_codecs') or []) or 'nothing'}")
for e in p.get("errors") or []:
    print(f"  problem: {e}")
codecs = p.get("HardwareDecodingCodecs") or ["h264"]
print(json.dumps({"HardwareAccelerationType": "vaapi", "EnableHardwareEncoding": True,
                  "VaapiDevice": node.get("path") or sys.argv[2], "HardwareDecodingCodecs": codecs,
                  "EncoderPreset": "slow"}))
sys.exit(0 if ok else 1)
EOF
}

if [[ -n $explain ]]; then
  out=$(summarize_probe "$explain"); rc=$?
  sed '$d' <<<"$out"
  echo "stand-in EncodingOptions: $(tail -1 <<<"$out")"
  ((rc == 0)) && echo "CONFIRMED: VA-API available (from $explain)" || echo "NOT CONFIRMED: VA-API not available (from $explain)"
  exit "$rc"
fi

fail() { echo "check-vaapi: FAIL: $*" >&2; exit 1; }
if ! compgen -G "/dev/dri/renderD*" >/dev/null; then
  fail "this machine has no GPU render node (no /dev/dri/renderD*): the VA-API path needs an Intel or AMD GPU" \
       "with its kernel driver loaded (a VM or container sees one only when the GPU is passed through)." \
       "Nothing was checked."
fi
[[ -e $device ]] || fail "$device does not exist; render nodes here: $(ls /dev/dri/renderD* | tr '\n' ' ')(use --device)"
if [[ -z $guardian ]]; then
  for c in "$repo/build/guardian/guardian" "$(command -v guardian || true)"; do
    [[ -n $c && -x $c ]] && { guardian=$c; break; }
  done
fi
[[ -n $guardian && -x $guardian ]] || fail "no guardian binary: build it (scripts/run.sh, or cmake --build build) or pass --guardian PATH"
for tool in ffmpeg ffprobe python3; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done

record=${record:-$PWD/guardian-vaapi-check-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$record" || fail "cannot create $record"
confirmed=()
missing=()

echo "== 1. guardian probe vaapi --device $device"
"$guardian" probe vaapi --device "$device" | tee "$record/probe.txt"
"$guardian" probe vaapi --json --device "$device" >"$record/probe.json" 2>"$record/probe.err"
probe_summary=$(summarize_probe "$record/probe.json"); probe_rc=$?
sed '$d' <<<"$probe_summary"
stand_in_encoding=$(tail -1 <<<"$probe_summary")
if ((probe_rc == 0)); then
  confirmed+=("guardian probe vaapi: VA-API available ($(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["libva"]["vendor"])' "$record/probe.json"))")
else
  missing+=("guardian probe vaapi: VA-API not available (see the problems above; $record/probe.json)")
fi

echo
echo "== 2. guardian doctor"
"$guardian" doctor >"$record/doctor.txt" 2>&1
doctor_rc=$?
cat "$record/doctor.txt"
if grep -qiE 'va-?api|render node|renderD' "$record/doctor.txt"; then
  confirmed+=("guardian doctor reports on VA-API (exit $doctor_rc)")
else
  missing+=("guardian doctor printed no VA-API finding (exit $doctor_rc): its VA-API findings are not wired into the command yet")
fi

echo
echo "== 3. one hardware transcode by the Jellyfin stand-in ($stand_in_encoding)"
work=$(mktemp -d "${TMPDIR:-/tmp}/guardian-vaapi-check.XXXXXX")
python3 "$repo/tests/vm/guest/fake-jellyfin.py" --fixtures "$repo/tests/support/fake_jellyfin/fixtures" \
  --port 0 --port-file "$work/port" --config-dir "$work/config" --workdir "$work/work" \
  --media-spec 1920x1080@24:60 --streams 2 --initial-encoding "$stand_in_encoding" \
  >"$record/standin.log" 2>&1 &
standin=$!
cleanup() { kill "$standin" 2>/dev/null; wait "$standin" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
echo "  making a 60 s 1080p source and starting the stand-in (pid $standin) ..."
python3 - "$work" "$record" <<'EOF'
import json, os, subprocess, sys, time, urllib.request
work, record = sys.argv[1], sys.argv[2]
deadline = time.monotonic() + 600
while not os.path.exists(os.path.join(work, "port")):
    if time.monotonic() > deadline:
        sys.exit("  the stand-in did not start (see standin.log)")
    time.sleep(0.5)
base = "http://127.0.0.1:" + open(os.path.join(work, "port")).read().strip()
def state():
    with urllib.request.urlopen(base + "/__standin/state", timeout=30) as r:
        return json.loads(r.read())
ok = True
deadline = time.monotonic() + 90
while time.monotonic() < deadline:
    s = state()
    if len(s["viewers"]) == 2 and all((v["last_segment"] if v["last_segment"] is not None else -1) >= 3
                                      for v in s["viewers"]):
        break
    if any(j["kind"] == "transcode" and not j["running"] and j["exit_code"] not in (0, None) for j in s["jobs"]):
        break
    time.sleep(1)
s = state()
with open(os.path.join(record, "standin-state.json"), "w") as f:
    json.dump(s, f, indent=1)
jobs = [j for j in s["jobs"] if j["kind"] == "transcode"]
if not jobs:
    print("  no transcode started"); sys.exit(1)
for j in jobs:
    argv = j["argv"]
    hw_enc = "h264_vaapi" in argv
    hw_dec = "-hwaccel" in argv and argv[argv.index("-hwaccel") + 1] == "vaapi"
    print(f"  job {j['pid']} (viewer {j['viewer']}): encoder {'h264_vaapi' if hw_enc else 'SOFTWARE'}, decode "
          f"{'-hwaccel vaapi' if hw_dec else 'SOFTWARE'}, {j['frames']} frames, "
          f"{'running' if j['running'] else 'exit ' + str(j['exit_code'])}, {j['fps'] or 0:.0f} fps")
    ok = ok and hw_enc and hw_dec and (j["running"] or j["exit_code"] == 0) and j["frames"] > 0
for v in s["viewers"]:
    seg_dir = os.path.join(work, "work", "transcodes", v["play_session"] or "")
    segs = sorted(f for f in os.listdir(seg_dir) if f.endswith(".ts")) if os.path.isdir(seg_dir) else []
    if not segs:
        print(f"  viewer {v['viewer']}: no segment"); ok = False; continue
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=codec_name,width,height", "-of", "csv=p=0", os.path.join(seg_dir, segs[0])],
                         capture_output=True, text=True).stdout.strip()
    print(f"  viewer {v['viewer']} ({v['client']}): {len(segs)} segments, the first is {out}; stalled "
          f"{v['stall_seconds']} s")
    ok = ok and out.startswith("h264")
for f in os.listdir(os.path.join(work, "work", "log")):
    if f.startswith("FFmpeg.Transcode"):
        subprocess.run(["cp", os.path.join(work, "work", "log", f), record])
sys.exit(0 if ok else 1)
EOF
if (($? == 0)); then
  confirmed+=("a VA-API transcode by the Jellyfin stand-in: -hwaccel vaapi + h264_vaapi, H.264 HLS segments for two clients")
else
  missing+=("the VA-API transcode (see $record/standin.log and the FFmpeg.Transcode-*.log files)")
fi

echo
echo "== summary (record: $record)"
for c in "${confirmed[@]}"; do echo "CONFIRMED: $c"; done
for m in "${missing[@]}"; do echo "NOT CONFIRMED: $m"; done
echo "To add this GPU's probe to the unit tests' fixtures: cp $record/probe.json tests/fixtures/jellyfin/vaapi-probe-<gpu>.json"
((${#missing[@]} == 0))
