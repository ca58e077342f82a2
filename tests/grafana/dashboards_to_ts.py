#!/usr/bin/env python3
"""Writes each dashboard in grafana/dashboards/ as TypeScript typed with Grafana's published
schema (@grafana/schema), so `tsc` checks it offline: the dashboard against `Dashboard`, and each
panel's `options` and `fieldConfig.defaults.custom` against its panel plugin's own `Options` and
`FieldConfig`. Object literals get TypeScript's excess-property check, so an unknown or misspelt
key is an error, not silently ignored as Grafana would.

Usage: dashboards_to_ts.py DASHBOARD_DIR OUT_DIR
"""
import json
import pathlib
import sys

# Panel type -> the module of @grafana/schema with its Options/FieldConfig.
PLUGINS = {
    "timeseries": "timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen",
    "gauge": "gauge/panelcfg/x/GaugePanelCfg_types.gen",
    "stat": "stat/panelcfg/x/StatPanelCfg_types.gen",
    "table": "table/panelcfg/x/TablePanelCfg_types.gen",
    "state-timeline": "statetimeline/panelcfg/x/StateTimelinePanelCfg_types.gen",
}

# Panel plugins whose schema has a FieldConfig (custom field options); the others have none.
HAS_CUSTOM = {"timeseries", "table", "state-timeline"}


def ident(panel_type: str) -> str:
    return panel_type.replace("-", "_")


def main() -> int:
    src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.ts"):
        old.unlink()
    for path in sorted(src.glob("*.json")):
        dashboard = json.loads(path.read_text())
        types = sorted({p["type"] for p in dashboard.get("panels", [])})
        unknown = [t for t in types if t not in PLUGINS]
        if unknown:
            print(f"{path}: panel type(s) {unknown} have no schema mapping in {__file__}", file=sys.stderr)
            return 1
        lines = [f"// Generated from {path.name} by dashboards_to_ts.py: do not edit.",
                 "import type { AnnotationQuery, Dashboard } from '@grafana/schema';",
                 "import type { Json, PrometheusAnnotationFields } from '../support/json';"]
        for t in types:
            lines.append(f"import type * as {ident(t)} from '@grafana/schema/dist/esm/raw/composable/{PLUGINS[t]}';")
        # Annotations are checked on their own: the common AnnotationQuery keys plus the ones
        # Grafana's Prometheus data source reads.
        annotations = dashboard.get("annotations", {}).get("list", [])
        body = dict(dashboard)
        body["annotations"] = {k: v for k, v in dashboard.get("annotations", {}).items() if k != "list"}
        lines.append(f"export const dashboard: Json<Dashboard> = {json.dumps(body, indent=2, ensure_ascii=False)};")
        lines.append("export const annotations: Array<Json<AnnotationQuery> & PrometheusAnnotationFields> = "
                     f"{json.dumps(annotations, indent=2, ensure_ascii=False)};")
        for panel in dashboard.get("panels", []):
            t = ident(panel["type"])
            custom = panel.get("fieldConfig", {}).get("defaults", {}).get("custom", {})
            lines.append(f"// panel {panel.get('id')}: {panel.get('title')}")
            lines.append(f"export const panel_{panel.get('id')}_options: Json<{t}.Options> = "
                         f"{json.dumps(panel.get('options', {}), indent=2, ensure_ascii=False)};")
            if panel["type"] in HAS_CUSTOM:
                lines.append(f"export const panel_{panel.get('id')}_custom: Json<{t}.FieldConfig> = "
                             f"{json.dumps(custom, indent=2, ensure_ascii=False)};")
            elif custom:
                print(f"{path}: panel {panel.get('id')} ({panel['type']}) has fieldConfig.defaults.custom, "
                      "but its plugin has no custom field config", file=sys.stderr)
                return 1
        (out / (path.stem.replace("-", "_") + ".ts")).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
