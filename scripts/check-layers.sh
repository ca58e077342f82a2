#!/usr/bin/env bash
# Checks that guardian's stages include only stages below them.
#
# The stages and what each USES are the guardian_stage(...) lines of guardian/CMakeLists.txt
# (one per line, lowest first). A file in guardian/<stage>/ may include "<other>/..." only when
# <other> is the same stage or one it uses, directly or through a stage it uses. So an upward
# include, and with it any two folders including each other, fails here (ctest `layers`), not in
# review. Every folder under guardian/ with sources must be a declared stage.
#
# Usage: scripts/check-layers.sh [ROOT]   (ROOT: a checkout; default: this one)
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cmake_file=$root/guardian/CMakeLists.txt
[[ -f $cmake_file ]] || { echo "check-layers: no $cmake_file" >&2; exit 2; }

declare -A uses=()    # stage -> the stages it names in USES
declare -A below=()   # stage -> every stage below it (USES, transitively)
order=()
while read -r line; do
  # guardian_stage(NAME [PROGRAM P] [USES A B ...])
  body=${line#guardian_stage(}
  body=${body%%)*}
  read -r -a words <<<"$body"
  name=${words[0]}
  direct=()
  in_uses=0
  for word in "${words[@]:1}"; do
    case $word in
      USES) in_uses=1 ;;
      PROGRAM) in_uses=0 ;;
      *) ((in_uses)) && direct+=("$word") ;;
    esac
  done
  closure=" "
  for used in "${direct[@]}"; do
    if [[ -z ${below[$used]+set} ]]; then
      echo "$cmake_file: stage $name uses $used, which is not declared above it" >&2
      exit 1
    fi
    closure+="$used ${below[$used]} "
  done
  # De-duplicate, sorted, for the messages.
  below[$name]=$(tr ' ' '\n' <<<"$closure" | sed '/^$/d' | sort -u | tr '\n' ' ')
  uses[$name]="${direct[*]}"
  order+=("$name")
done < <(grep -E '^guardian_stage\(' "$cmake_file")
((${#order[@]} > 0)) || { echo "check-layers: no guardian_stage() lines in $cmake_file" >&2; exit 2; }

status=0
# Every folder with sources is a stage.
while read -r dir; do
  stage=${dir#"$root/guardian/"}
  stage=${stage%%/*}
  if [[ -z ${below[$stage]+set} ]]; then
    echo "guardian/$stage/: not a stage; declare it in guardian/CMakeLists.txt with guardian_stage()"
    status=1
  fi
done < <(find "$root/guardian" -mindepth 2 -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.in' \) \
           -printf '%h\n' | sort -u)

checked=0
while IFS=: read -r file line text; do
  rel=${file#"$root/"}
  stage=${rel#guardian/}
  stage=${stage%%/*}
  [[ -n ${below[$stage]+set} ]] || continue  # reported above
  [[ $text =~ include[[:space:]]*\"([^\"]+)\" ]] || continue
  included=${BASH_REMATCH[1]}
  [[ $included == */* ]] || continue        # "x.h": not a stage path
  target=${included%%/*}
  [[ -d $root/guardian/$target ]] || continue  # a system or generated header written with quotes
  checked=$((checked + 1))
  [[ $target == "$stage" ]] && continue
  if [[ " ${below[$stage]} " != *" $target "* ]]; then
    echo "$rel:$line: $stage may not include $included: $stage uses only: ${below[$stage]:-(nothing)}"
    status=1
  fi
done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$root/guardian" \
           --include='*.h' --include='*.cpp' --include='*.in')

if ((status == 0)); then
  echo "check-layers: ${#order[@]} stages (${order[*]}), $checked includes between guardian/ folders, none upward"
fi
exit $status
