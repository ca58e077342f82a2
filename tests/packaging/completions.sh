#!/usr/bin/env bash
# The generated completions: bash and zsh parse them, and bash's completes what `guardian`
# takes — commands, each command's options, and option values (event names, --log targets).
# Usage: completions.sh COMPLETIONS_DIR GUARDIAN_BINARY
set -uo pipefail
dir=$1 guardian=$2
fail=0
bash -n "$dir/guardian" || { echo "FAIL: bash -n $dir/guardian"; fail=1; }
if command -v zsh >/dev/null; then
  zsh -n "$dir/_guardian" || { echo "FAIL: zsh -n $dir/_guardian"; fail=1; }
  head -1 "$dir/_guardian" | grep -qx '#compdef guardian' || { echo "FAIL: _guardian lacks #compdef"; fail=1; }
else
  echo "FAIL: zsh is not installed (scripts/install-deps.sh installs it)"; fail=1
fi

# shellcheck disable=SC1090
source "$dir/guardian"
complete_words() {  # complete_words WORD... : COMPREPLY for the last word
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _guardian 2>/dev/null
  printf '%s\n' "${COMPREPLY[@]}"
}
expect() {  # expect "WORDS" EXPECTED... (a trailing space: completing a new, empty word)
  local words=$1; shift
  local got arr
  read -ra arr <<<"$words"
  [[ $words == *" " ]] && arr+=("")
  got=$(complete_words "${arr[@]}")
  for want in "$@"; do
    grep -qx -- "$want" <<<"$got" || { echo "FAIL: completing '$words' gave [$(tr '\n' ' ' <<<"$got")], not $want"; fail=1; }
  done
}
# Every command guardian --help lists completes.
for command in $("$guardian" --help | awk '/^commands:/ {on=1; next} /^$/ {on=0} on {print $1}'); do
  expect "guardian ${command:0:3}" "$command"
done
expect "guardian events --" --since --until --event --unit --json --follow --from-export --help
expect "guardian events --event oom" oom-kill oomd-kill
expect "guardian events --event kernel" kernel-oom-kill
expect "guardian run --log " auto journal stderr
expect "guardian probe " vaapi
expect "guardian status --" --json --bus-address --timeout
(( fail == 0 )) && echo "completions ok"
exit $fail
