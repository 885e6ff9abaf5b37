#!/usr/bin/env bash
# Static checks of monitoring/: every metric name the rules and the Grafana dashboard use is
# still in the collector's sources (a renamed metric fails here, no build needed), the
# dashboard's shape and the PromQL of its expressions, then `promtool check rules` and the rules' unit tests
# (`promtool test rules`).
# Usage: rules_test.sh. Exit 77 without python3 or promtool (after the name check when python3
# is there).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
monitoring="$(dirname "$here")"
root="$(dirname "$monitoring")"

command -v python3 >/dev/null || { echo "skip: no python3"; exit 77; }
python3 "$here/check_metric_names.py" --sources "$root"

command -v promtool >/dev/null || { echo "skip: no promtool"; exit 77; }
promtool check rules "$monitoring/prometheus/pixelring.rules.yml"
promtool test rules "$monitoring/prometheus/pixelring.rules.test.yml"
# The dashboard's expressions, with its variables set, parsed by promtool as recording rules of
# a throwaway rules file: a PromQL syntax error fails here without a running Prometheus.
tmp="$(mktemp -d /tmp/pixelring-monitoring-rules.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
python3 - "$monitoring/grafana/pixelring.json" >"$tmp/dashboard.rules.yml" <<'PY'
import json, sys
dash = json.load(open(sys.argv[1]))
print("groups:\n  - name: dashboard\n    rules:")
for i, t in enumerate(t for p in dash["panels"] for t in p.get("targets", [])):
    q = t["expr"].replace("$__rate_interval", "1m").replace("$job", "pixelring")
    print(f"      - record: dashboard_expr_{i}\n        expr: {json.dumps(q.replace('$instance', '.*'))}")
PY
promtool check rules "$tmp/dashboard.rules.yml" >"$tmp/check.log" 2>&1 ||
    { cat "$tmp/check.log"; echo "FAIL: a dashboard expression does not parse"; exit 1; }
dashboard_exprs="$(grep -c 'record: dashboard_expr_' "$tmp/dashboard.rules.yml")"

alerts="$(grep -c '^ *- alert: ' "$monitoring/prometheus/pixelring.rules.yml")"
records="$(grep -c '^ *- record: ' "$monitoring/prometheus/pixelring.rules.yml")"
echo "ok: $alerts alerts and $records recording rules checked and unit-tested; metric names, dashboard shape and its $dashboard_exprs expressions checked"
