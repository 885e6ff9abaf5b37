#!/usr/bin/env bash
# Static checks of monitoring/: every metric name the rules and the Grafana dashboard use is
# still in the collector's sources (a renamed metric fails here, no build needed), the
# dashboard's shape, then `promtool check rules` and the rules' unit tests
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
alerts="$(grep -c '^ *- alert: ' "$monitoring/prometheus/pixelring.rules.yml")"
records="$(grep -c '^ *- record: ' "$monitoring/prometheus/pixelring.rules.yml")"
echo "ok: $alerts alerts and $records recording rules checked and unit-tested; dashboard and metric names checked"
