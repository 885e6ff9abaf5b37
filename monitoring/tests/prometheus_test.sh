#!/usr/bin/env bash
# The monitoring/ files against a real collector and a real Prometheus, all on loopback:
# - two collectors, one with the file sink and one with the Kafka sink on pixelring-devkafka
#   (so that the Kafka and spool series exist too);
# - `promtool check metrics` on both live /metrics pages must print nothing;
# - every metric name the rules and the Grafana dashboard use must be on one of the pages;
# - Prometheus (scrape and evaluation every second) loads the shipped rules file and scrapes
#   both admin listeners as job "pixelring"; after N pixels to each collector, its query API
#   must count N accepted events per collector, and as many written (file) or delivered
#   (Kafka); every rule group must be loaded with every rule's health ok, both targets up,
#   and every expression of the dashboard must be accepted by the query API.
# Usage: prometheus_test.sh BUILD_DIR. Exit 77 without prometheus, promtool, curl or python3.
set -euo pipefail
build="$(cd "${1:?usage: prometheus_test.sh BUILD_DIR}" && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
monitoring="$(dirname "$here")"
for tool in prometheus promtool curl python3; do
    command -v "$tool" >/dev/null || { echo "skip: no $tool"; exit 77; }
done
for bin in pixelring pixelring-devkafka; do
    [ -x "$build/tools/$bin" ] || { echo "skip: no $build/tools/$bin"; exit 77; }
done

# shellcheck source-path=SCRIPTDIR source=../../tests/system/lib.sh
source "$monitoring/../tests/system/lib.sh"
system_test_dir prometheus
n=25

# The development Kafka, then the two collectors.
"$build/tools/pixelring-devkafka" --brokers 2 --topic pixelring.events:4 \
    --bootstrap-file "$tmp/bootstrap" >"$tmp/devkafka.log" 2>&1 &
pids+=($!)
wait_for 10 "$tmp/devkafka.log" "bootstrap" || fail "pixelring-devkafka did not start"
wait_for 10 "$tmp/bootstrap" ":" || fail "no bootstrap file"
bootstrap="$(cat "$tmp/bootstrap")"
brokers="[\"${bootstrap//,/\",\"}\"]"

start_collector() { # start_collector NAME SETTINGS...
    local name="$1"
    shift
    "$build/tools/pixelring" --set server.listen=127.0.0.1:0 --set admin.listen=127.0.0.1:0 \
        --set server.workers=1 --set spool.dir="$tmp/$name-spool" "$@" 2>"$tmp/$name.log" &
    pids+=($!)
    wait_for 10 "$tmp/$name.log" " listening on " || fail "pixelring ($name) did not start"
}
ports() { # ports NAME: prints "PUBLIC ADMIN" from the start line
    sed -nE 's/.* listening on 127\.0\.0\.1:([0-9]+) admin 127\.0\.0\.1:([0-9]+) .*/\1 \2/p' \
        "$tmp/$1.log"
}
start_collector file --set sink.type=file --set sink.file.path="$tmp/events.ndjson"
start_collector kafka --set sink.type=kafka --set "sink.kafka.brokers=$brokers" \
    --set sink.kafka.stop_timeout_ms=2000
declare -A port admin
for name in file kafka; do
    read -r "port[$name]" "admin[$name]" <<<"$(ports "$name")"
    [ -n "${admin[$name]}" ] || fail "no ports in the $name collector's start line"
done
file_admin="${admin[file]}"
kafka_admin="${admin[kafka]}"

# The per-broker series appear with librdkafka's first statistics (every second).
for _ in $(seq 100); do
    up="$(curl -sf "http://127.0.0.1:$kafka_admin/metrics" |
        sed -nE 's/^pixelring_kafka_brokers_up (-?[0-9]+)$/\1/p')"
    [ "${up:-0}" -gt 0 ] && break
    sleep 0.1
done
[ "${up:-0}" -gt 0 ] || fail "the Kafka collector sees no broker (brokers_up ${up:-none})"

# The live pages: promtool's lint, then the metric names of the rules and the dashboard.
for name in file kafka; do
    curl -sf "http://127.0.0.1:${admin[$name]}/metrics" >"$tmp/$name.metrics" ||
        fail "no /metrics from the $name collector"
    lint="$(promtool check metrics <"$tmp/$name.metrics" 2>&1)" ||
        fail "promtool check metrics ($name sink): $lint"
    [ -z "$lint" ] || fail "promtool check metrics ($name sink) reports: $lint"
done
families="$(cat "$tmp/file.metrics" "$tmp/kafka.metrics" | grep -c '^# TYPE ' || true)"
python3 "$here/check_metric_names.py" --metrics "$tmp/file.metrics" "$tmp/kafka.metrics" ||
    fail "a metric of the rules or the dashboard is not on the live pages"

# Prometheus on a free loopback port, its configuration and data in the temporary directory.
prom_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat >"$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $monitoring/prometheus/pixelring.rules.yml
scrape_configs:
  - job_name: pixelring
    static_configs:
      - targets: ["127.0.0.1:$file_admin", "127.0.0.1:$kafka_admin"]
EOF
promtool check config "$tmp/prometheus.yml" >/dev/null || fail "promtool check config"
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
    --web.listen-address="127.0.0.1:$prom_port" >"$tmp/prometheus.log" 2>&1 &
pids+=($!)
api="http://127.0.0.1:$prom_port"
for _ in $(seq 300); do
    curl -sf "$api/-/ready" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "$api/-/ready" >/dev/null || fail "Prometheus did not become ready"

# N pixels to each collector.
for name in file kafka; do
    for i in $(seq "$n"); do
        code="$(curl -s -o /dev/null -w '%{http_code}' \
            "http://127.0.0.1:${port[$name]}/track/open.gif?campaignID=prom-$name-$i")"
        [ "$code" = 200 ] || fail "pixel $i to the $name collector: HTTP $code"
    done
done

query() { # query PROMQL: prints the JSON answer
    curl -sf -G "$api/api/v1/query" --data-urlencode "query=$1"
}
# Prints "ok" once every collector shows N accepted and N settled (written or delivered).
counted() {
    query 'pixelring_events_total{job="pixelring",outcome=~"accepted|written|delivered"}' |
        python3 -c '
import json, sys
n, file_i, kafka_i = int(sys.argv[1]), sys.argv[2], sys.argv[3]
got = {(r["metric"]["instance"], r["metric"]["outcome"]): float(r["value"][1])
       for r in json.load(sys.stdin)["data"]["result"]}
want = {(file_i, "accepted"): n, (file_i, "written"): n,
        (kafka_i, "accepted"): n, (kafka_i, "delivered"): n}
print("ok" if all(got.get(k) == v for k, v in want.items()) else
      " ".join(f"{i} {o}={got.get((i, o))}" for i, o in sorted(want)))
' "$n" "127.0.0.1:$file_admin" "127.0.0.1:$kafka_admin"
}
state=""
for _ in $(seq 60); do
    state="$(counted || echo "query failed")"
    [ "$state" = ok ] && break
    sleep 0.5
done
[ "$state" = ok ] || fail "Prometheus does not count $n events per collector: $state"
total="$(query 'sum(pixelring_events_total{job="pixelring",outcome="accepted"})' |
    python3 -c 'import json, sys; print(int(float(json.load(sys.stdin)["data"]["result"][0]["value"][1])))')"
[ "$total" = $((2 * n)) ] || fail "sum of accepted events is $total, not $((2 * n))"

# The rules: every group of the file loaded, every rule evaluated with health ok.
expected_groups="$(sed -nE 's/^  - name: (.*)$/\1/p' "$monitoring/prometheus/pixelring.rules.yml" | sort | tr '\n' ' ')"
rules_state=""
for _ in $(seq 30); do
    rules_state="$(curl -sf "$api/api/v1/rules" | python3 -c '
import json, sys
groups = json.load(sys.stdin)["data"]["groups"]
names = " ".join(sorted(g["name"] for g in groups)) + " "
bad = [f"{r['"'"'name'"'"']}={r['"'"'health'"'"']}" for g in groups for r in g["rules"]
       if r["health"] != "ok"]
count = sum(len(g["rules"]) for g in groups)
if names != sys.argv[1]:
    print(f"groups {names!r}, expected {sys.argv[1]!r}")
elif bad:
    print("not ok: " + " ".join(bad))
else:
    print(f"ok {len(groups)} {count}")
' "$expected_groups" || echo "query failed")"
    [[ "$rules_state" == ok* ]] && break
    sleep 0.5
done
[[ "$rules_state" == ok* ]] || fail "rules: $rules_state"
read -r _ group_count rule_count <<<"$rules_state"

targets="$(query 'count(up{job="pixelring"} == 1)' |
    python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')"
[ "$targets" = 2 ] || fail "$targets of 2 targets up"

# Every expression of the dashboard, with its variables set, is valid PromQL that Prometheus
# evaluates (an empty result is fine: no TLS listener here, for example).
python3 - "$monitoring/grafana/pixelring.json" "$api" <<'EOF' || fail "a dashboard expression was refused"
import json, sys, urllib.parse, urllib.request
dash, api = json.load(open(sys.argv[1])), sys.argv[2]
exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
bad = []
for e in exprs:
    q = e.replace("$__rate_interval", "1m").replace("$job", "pixelring").replace("$instance", ".*")
    url = f"{api}/api/v1/query?" + urllib.parse.urlencode({"query": q})
    try:
        answer = json.load(urllib.request.urlopen(url, timeout=10))
        if answer.get("status") != "success":
            bad.append(f"{e}: {answer}")
    except Exception as error:  # an HTTP 400 for a parse error
        bad.append(f"{e}: {error}")
for b in bad:
    print(f"FAIL: dashboard expression {b}")
print(f"dashboard: {len(exprs) - len(bad)} of {len(exprs)} expressions evaluated")
sys.exit(1 if bad else 0)
EOF

echo "ok: $families metric families on the live pages lint clean, every metric of the rules and" \
    "the dashboard present; Prometheus $(prometheus --version 2>&1 | sed -nE '1s/^prometheus, version ([^ ]+).*/\1/p')" \
    "counted $n events on each of 2 collectors (file, Kafka); $group_count rule groups," \
    "$rule_count rules loaded, health ok"
