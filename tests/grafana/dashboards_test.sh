#!/usr/bin/env bash
# The stricter dashboard check on the real dashboards (must pass), on a broken copy (must fail,
# naming each problem), and the README's generated panel section (must be current).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python3 "$here/check_dashboards.py" "$repo/grafana/dashboards"
python3 "$repo/grafana/panels_to_readme.py" --check

broken="$(mktemp -d)"
trap 'rm -rf "$broken"' EXIT
python3 - "$repo/grafana/dashboards/guardian-overview.json" "$broken/broken.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["panels"]
p[1]["id"] = p[0]["id"]                                   # duplicate id
p[2]["gridPos"] = dict(p[0]["gridPos"])                   # overlap
del p[3]["fieldConfig"]["defaults"]["unit"]               # no unit
p[4]["datasource"] = None                                 # no datasource
p[2]["fieldConfig"]["overrides"] = []                     # pressure without oomd's limit line
p[5]["targets"][0]["expr"] = "guardian_level{cgroup=~\"$nope\"}"  # undefined variable, no $instance
json.dump(d, open(sys.argv[2], "w"))
PY
if out="$(python3 "$here/check_dashboards.py" "$broken" 2>&1)"; then
  echo "check_dashboards accepted a broken dashboard:"; echo "$out"; exit 1
fi
for expect in "also used by" "overlaps" "no unit" "datasource is {}" "oomd's limit" '$nope is used but not defined' "does not filter on \$instance"; do
  grep -qF -- "$expect" <<<"$out" || { echo "check_dashboards missed: $expect"; echo "$out"; exit 1; }
done
echo "dashboards_test: ok"
