#!/usr/bin/env bash
# The man pages render with man(1) without a warning from groff, guardian(1) has every command
# `guardian --help` lists, and guardian.toml(5) has every key the policy loader accepts (read
# from its check_known_keys calls), every signal and every action type this build knows.
# Usage: man_pages.sh MAN_DIR SOURCE_DIR GUARDIAN_BINARY
set -uo pipefail
dir=$1 source=$2 guardian=$3
fail=0
render() {  # render PAGE -> plain text on stdout; groff's and man's complaints fail the test
  local err
  err=$(mktemp)
  MANWIDTH=100 man --warnings -E UTF-8 -l "$1" 2>"$err" | col -b
  if [[ -s $err ]]; then echo "FAIL: man -l $1 warned:" >&2; cat "$err" >&2; fail=1; fi
  rm -f "$err"
}
pages=("$dir"/*.[0-9])
(( ${#pages[@]} >= 2 )) || { echo "FAIL: no man pages in $dir"; exit 1; }
for page in "${pages[@]}"; do
  text=$(render "$page")
  grep -q '^NAME' <<<"$text" || { echo "FAIL: $page has no NAME section"; fail=1; }
  grep -q '^SEE ALSO' <<<"$text" || { echo "FAIL: $page has no SEE ALSO section"; fail=1; }
done

guardian1=$(render "$dir/guardian.1")
for command in $("$guardian" --help | awk '/^commands:/ {on=1; next} /^$/ {on=0} on {print $1}'); do
  grep -q "^   $command\$" <<<"$guardian1" || { echo "FAIL: guardian(1) has no section for '$command'"; fail=1; }
  for option in $("$guardian" "$command" --help | grep -oE '^  --[a-z-]+' | sed 's/^  //'); do
    [[ $option == --help ]] && continue
    grep -q -- "$option" <<<"$guardian1" || { echo "FAIL: guardian(1) lacks $command $option"; fail=1; }
  done
done

toml5=$(render "$dir/guardian.toml.5")
# The calls span lines (perl -0777 reads each file whole).
keys=$(find "$source/guardian" -name '*.cpp' -print0 | xargs -0 perl -0777 -ne 'print "$1\n" while /check_known_keys\((.*?)\);/sg' |
       grep -oE '"[a-z_]+"' | tr -d '"' | sort -u)
[[ -n $keys ]] || { echo "FAIL: found no check_known_keys calls under $source/guardian"; fail=1; }
for key in $keys version name; do
  grep -qE "(^|[^a-z_])$key([^a-z_]|$)" <<<"$toml5" || { echo "FAIL: guardian.toml(5) does not describe key '$key'"; fail=1; }
done
for section in sampling metrics level container_slice containers jellyfin; do
  grep -qF "[$section]" <<<"$toml5" || grep -qF "[[$section]]" <<<"$toml5" || {
    echo "FAIL: guardian.toml(5) has no [$section]"; fail=1; }
done
# config/signals.cpp: one table row per signal, `{Signal::Name, "policy_name", …` (the name may
# start the next line).
signals=$(perl -0ne 'while (/\{Signal::\w+,\s*"([a-z_0-9]+)"/g) { print "$1\n" }' "$source"/guardian/config/signals.cpp)
[[ -n $signals ]] || { echo "FAIL: found no signal names"; fail=1; }
for signal in $signals; do
  grep -qw "$signal" <<<"$toml5" || { echo "FAIL: guardian.toml(5) does not describe signal '$signal'"; fail=1; }
done
for action in $("$guardian" check-policy --list-actions | awk '{print $1}'); do
  grep -qF "$action" <<<"$toml5" || { echo "FAIL: guardian.toml(5) does not describe action '$action'"; fail=1; }
done
(( fail == 0 )) && echo "man pages ok: ${pages[*]##*/}"
exit $fail
