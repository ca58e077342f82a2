#!/usr/bin/env bash
# Type-checks grafana/dashboards/*.json against Grafana's published schema (@grafana/schema) with
# tsc. Offline once installed: the first run installs the locked packages with `npm ci` into this
# folder (node_modules/ is not committed).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$here"
if [[ ! -x node_modules/.bin/tsc ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
python3 dashboards_to_ts.py "$repo/grafana/dashboards" generated
node_modules/.bin/tsc -p tsconfig.json
echo "schema_check: $(ls generated/*.ts | wc -l) dashboards type-check against @grafana/schema $(node -p 'require("./node_modules/@grafana/schema/package.json").version')"
