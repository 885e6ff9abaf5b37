#!/usr/bin/env bash
# The ClickHouse 18.16 part of the downstream contract, live, on loopback: a development
# Kafka (pixelring-devkafka), ClickHouse 18.16 with its own configuration and data folder in
# a temporary directory and the shipped drop-ins (server-18.16.xml, users-18.16.xml), the
# shipped schema-18.16.sql (only the broker list substituted), and a collector producing to
# the topic. Sends pixels (.gif, .png), beacons, REST tuples and redirects for several
# campaigns and visitors with curl, reads the topic back with pixelring-consume, waits (at
# most 60 s) until pixelring.events holds every event, then checks that
# - every id on the topic is in the table exactly once (count = uniqExact(id) = ids on the
#   topic, also with FINAL), and the id sets are equal;
# - the events per type and action are those sent;
# - every member of every event round-trips into its column (params in order, ts to the
#   second plus ts_ms, nulls and absent members as NULL), and raw is the message itself;
# - with every message sent to the topic once more (kcat; without it the rows are copied
#   inside ClickHouse), uniqExact(id) and count() FINAL still count each event once, and
#   OPTIMIZE FINAL leaves one row per id.
# Prints one summary line: events, and seconds from the last answer to the last row.
# Usage: clickhouse_test.sh BUILD_DIR. Exit 77 without clickhouse-server, clickhouse-client,
# curl or python3.
set -euo pipefail
build="$(cd "${1:?usage: clickhouse_test.sh BUILD_DIR}" && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
export PATH="$PATH:/usr/sbin"
for tool in clickhouse-server clickhouse-client curl python3; do
    command -v "$tool" >/dev/null || { echo "skip: no $tool"; exit 77; }
done
for tool in pixelring pixelring-devkafka pixelring-consume; do
    [ -x "$build/tools/$tool" ] || { echo "FAIL: no $build/tools/$tool"; exit 1; }
done

tcp_port=""
# shellcheck source=../../tests/system/lib.sh
source "$here/../../tests/system/lib.sh"
system_test_dir clickhouse

# ClickHouse is stopped first and waited for (at most 30 s, then SIGKILL), while the brokers
# it consumes from still answer; then lib.sh ends the rest by PID and removes the directory.
# Its Kafka consumers are closed before (the view and the Kafka table dropped): 18.16 with
# Debian's librdkafka 2.0 sometimes aborts when it closes them during its own shutdown.
ch_pid=""
stop_clickhouse() {
    [ -n "$ch_pid" ] || return 0
    for table in events_mv events_queue; do
        timeout 15 clickhouse-client --host 127.0.0.1 --port "$tcp_port" \
            -q "DROP TABLE IF EXISTS pixelring.$table" >/dev/null 2>&1 || true
    done
    kill "$ch_pid" 2>/dev/null || true
    for _ in $(seq 300); do
        kill -0 "$ch_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$ch_pid" 2>/dev/null || true
    wait "$ch_pid" 2>/dev/null || true
    ch_pid=""
}
trap 'stop_clickhouse; system_test_cleanup' EXIT

free_ports() { # free_ports N: N distinct free TCP ports on 127.0.0.1
    python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# The development Kafka: three brokers, the topic with three partitions.
"$build/tools/pixelring-devkafka" --brokers 3 --topic pixelring.events:3 \
    --bootstrap-file "$tmp/bootstrap" >"$tmp/devkafka.log" 2>&1 &
pids+=($!)
wait_for 10 "$tmp/devkafka.log" "bootstrap" || fail "pixelring-devkafka did not start"
for _ in $(seq 50); do [ -s "$tmp/bootstrap" ] && break; sleep 0.1; done
bootstrap="$(cat "$tmp/bootstrap")"
[ -n "$bootstrap" ] || fail "no bootstrap string"

# ClickHouse 18.16 on loopback: its own config.xml and users.xml, the shipped drop-ins in
# config.d/ and users.d/ beside them. The server's time zone is deliberately not UTC, to
# show that ts does not depend on it. Root is fine for clickhouse-server 18.16 (it refuses
# nothing), so the test runs as whoever calls it.
read -r tcp_port http_port <<<"$(free_ports 2)"
ch="$tmp/ch"
mkdir -p "$ch/data" "$ch/config.d" "$ch/users.d"
cp "$here/server-18.16.xml" "$ch/config.d/"
cp "$here/users-18.16.xml" "$ch/users.d/"
cat >"$ch/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>information</level>
        <log>$tmp/clickhouse.log</log>
        <errorlog>$tmp/clickhouse-errors.log</errorlog>
        <size>100M</size>
        <count>1</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$tcp_port</tcp_port>
    <http_port>$http_port</http_port>
    <path>$ch/data/</path>
    <tmp_path>$ch/data/tmp/</tmp_path>
    <user_files_path>$ch/data/user_files/</user_files_path>
    <format_schema_path>$ch/data/format_schemas/</format_schema_path>
    <users_config>$ch/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>Asia/Tokyo</timezone>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
</yandex>
EOF
cat >"$ch/users.xml" <<'EOF'
<?xml version="1.0"?>
<yandex>
    <profiles><default></default></profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default></default></quotas>
</yandex>
EOF
clickhouse-server --config-file="$ch/config.xml" >"$tmp/clickhouse-stdout.log" 2>&1 &
ch_pid=$!
chq() { clickhouse-client --host 127.0.0.1 --port "$tcp_port" "$@"; }
started=""
for _ in $(seq 300); do
    kill -0 "$ch_pid" 2>/dev/null || fail "clickhouse-server exited"
    if chq -q "SELECT 1" >/dev/null 2>&1; then started=1; break; fi
    sleep 0.1
done
[ -n "$started" ] || fail "clickhouse-server did not answer within 30 s"
version="$(chq -q "SELECT version()")"

# The shipped DDL, with the broker list substituted.
sed "s|kafka_broker_list = 'localhost:9092'|kafka_broker_list = '$bootstrap'|" \
    "$here/schema-18.16.sql" >"$tmp/schema.sql"
grep -qF "kafka_broker_list = '$bootstrap'" "$tmp/schema.sql" ||
    fail "schema-18.16.sql has no kafka_broker_list = 'localhost:9092' to substitute"
chq --multiquery <"$tmp/schema.sql" >"$tmp/ddl.log" 2>&1 || fail "loading schema-18.16.sql: $(cat "$tmp/ddl.log")"

# The collector: Kafka sink, loopback, the test's address trusted as a proxy (so that
# X-Forwarded-For makes visitors), full addresses, and shop.example allowed as a redirect
# target.
cat >"$tmp/pixelring.toml" <<EOF
[server]
listen = ["127.0.0.1:0"]
workers = 1
trusted_proxies = ["127.0.0.1/32"]
[admin]
listen = "127.0.0.1:0"
[sink]
type = "kafka"
[sink.kafka]
brokers = "$bootstrap"
topic = "pixelring.events"
[spool]
dir = "$tmp/spool"
[privacy]
ip = "full"
[redirect]
secret = "clickhouse-test-secret-0123456789"
allow_hosts = ["shop.example"]
[collector]
name = "clickhouse-test"
EOF
"$build/tools/pixelring" --config "$tmp/pixelring.toml" 2>"$tmp/pixelring.log" &
pids+=($!)
wait_for 10 "$tmp/pixelring.log" " listening on " || fail "pixelring did not start"
port="$(sed -nE 's/.* listening on 127\.0\.0\.1:([0-9]+) .*/\1/p' "$tmp/pixelring.log")"
[ -n "$port" ] || fail "no port in pixelring's start line"
base="http://127.0.0.1:$port"

# The requests: 3 campaigns x 5 visitors, each sending 8 pixels, one beacon of 4 items,
# 3 REST tuples and 3 redirects: 18 events, 270 in all. Every event carries seq (its number)
# and note (quotes, a comma, braces, a space, non-ASCII: what the view's parsing must get
# right). expected.tsv says, per seq, what the event must be.
campaigns=("newsletter-2026-12" "spring sale é" "shop.example")
campaigns_q=("newsletter-2026-12" "spring%20sale%20%C3%A9" "shop.example")
agents=("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15"
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36")
note='say "hi", {ok} é'
note_q='say%20%22hi%22%2C%20%7Bok%7D%20%C3%A9'
note_json='say \"hi\", {ok} é'
seq=0
: >"$tmp/expected.tsv"
: >"$tmp/codes.txt"
: >"$tmp/codes-expected.txt"
for c in 0 1 2; do
    for v in 0 1 2 3 4; do
        cq="${campaigns_q[$c]}"
        conf="$tmp/curl-$c-$v.conf"
        : >"$conf"
        get() { # get TYPE ACTION STATUS PATH_AND_QUERY (seq and note are appended)
            seq=$((seq + 1))
            printf '%s\t%s\t%s\t%s\t%s\n' "$seq" "$1" "$2" "${campaigns[$c]}" "$v" >>"$tmp/expected.tsv"
            printf 'url = "%s%sseq=%d&note=%s"\noutput = "/dev/null"\n' "$base" "$4" "$seq" "$note_q" >>"$conf"
            echo "$3" >>"$tmp/codes-expected.txt"
        }
        for _ in 1 2 3 4; do get pixel open 200 "/track/open.gif?campaignID=$cq&"; done
        for _ in 1 2; do get pixel pageview 200 "/track/pageview.png?campaignID=$cq&"; done
        for _ in 1 2; do
            get pixel "email-open:ann@example.com" 200 "/track/email-open:ann@example.com.gif?campaignID=$cq&"
        done
        for _ in 1 2 3; do get rest signup 204 "/tr/v1/action/signup/campaignID/$cq/plan/pro?"; done
        for _ in 1 2 3; do get redirect click 302 "/r/click?url=https://shop.example/sale&campaignID=$cq&"; done
        # /tr/v1 takes its params from the path: its seq and note are path segments.
        sed -i -E "s|(/tr/v1/[^?]*)\?seq=([0-9]+)&note=([^\"]*)|\1/seq/\2/note/\3|" "$conf"
        curl -sS --config "$conf" -H "X-Forwarded-For: 203.0.113.$((v + 10))" -A "${agents[$v]}" \
            -e "https://www.example.com/post/$c?utm_source=mail&utm_medium=email" \
            -w '%{http_code}\n' >>"$tmp/codes.txt" || fail "curl failed"
        items=""
        for a in scroll scroll read share; do
            seq=$((seq + 1))
            printf '%s\t%s\t%s\t%s\t%s\n' "$seq" beacon "$a" "${campaigns[$c]}" "$v" >>"$tmp/expected.tsv"
            items+="${items:+,}{\"action\":\"$a\",\"campaign\":\"${campaigns[$c]}\",\"url\":\"https://www.example.com/post/$c\",\"referrer\":\"https://search.example/?q=$c\",\"params\":{\"seq\":\"$seq\",\"note\":\"$note_json\",\"depth\":$((seq % 100))},\"ts\":$((1765000000000 + seq))}"
        done
        echo 204 >>"$tmp/codes-expected.txt"
        curl -sS -o /dev/null -H 'Content-Type: application/json' \
            -H "X-Forwarded-For: 203.0.113.$((v + 10))" -A "${agents[$v]}" \
            --data-binary "[$items]" -w '%{http_code}\n' "$base/e" >>"$tmp/codes.txt" || fail "curl failed"
    done
done
sent_at="$(date +%s.%N)"
events=$seq
cmp -s "$tmp/codes.txt" "$tmp/codes-expected.txt" ||
    fail "unexpected answers: $(diff "$tmp/codes-expected.txt" "$tmp/codes.txt" | head -n 5)"

# Every event on the topic (at most 30 s), then the topic read back whole.
consume() { # consume TIMEOUT_MS SUBCOMMAND...
    local ms=$1
    shift
    "$build/tools/pixelring-consume" --brokers "$bootstrap" --timeout-ms "$ms" "$@"
}
on_topic=0
for _ in $(seq 60); do
    on_topic="$(consume 10000 count 2>/dev/null | sed -n 's/^total //p')"
    [ "${on_topic:-0}" -ge "$events" ] && break
    sleep 0.5
done
[ "${on_topic:-0}" -eq "$events" ] || fail "$events events sent, ${on_topic:-0} on the topic"
consume 3000 tail --raw >"$tmp/topic.ndjson" 2>"$tmp/consume.log" || true
[ "$(wc -l <"$tmp/topic.ndjson")" -eq "$events" ] ||
    fail "read $(wc -l <"$tmp/topic.ndjson") events back from the topic, expected $events"

# Wait (at most 60 s) for every event in pixelring.events. 18.16's Kafka engine writes a
# block when it has read kafka_max_block_size messages or after stream_flush_interval_ms
# (7.5 s), whichever comes first.
# A view that cannot write (a column missing, a function refused) shows as an error in the
# server's log at every retry: then there is no point in waiting.
rows=0
for _ in $(seq 300); do
    rows="$(chq -q "SELECT count() FROM pixelring.events" 2>>"$tmp/client.log" || echo 0)"
    [ "$rows" -ge "$events" ] && break
    grep -q "while pushing to view" "$tmp/clickhouse-errors.log" 2>/dev/null &&
        fail "the view cannot write to pixelring.events: $(grep -m1 -o 'Code: .*while pushing to view [a-z_.]*' "$tmp/clickhouse-errors.log")"
    sleep 0.2
done
all_at="$(date +%s.%N)"
[ "$rows" -ge "$events" ] || fail "after 60 s pixelring.events holds $rows rows of $events"
seconds="$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$sent_at" "$all_at")"
sleep 1 # a late duplicate would arrive in the next block; give it the chance to show

chq -q "SELECT count(), uniqExact(id) FROM pixelring.events" >"$tmp/counts.tsv"
chq -q "SELECT count() FROM pixelring.events FINAL" >"$tmp/final.tsv"
chq -q "SELECT type, action, count() FROM pixelring.events GROUP BY type, action" >"$tmp/by-action.tsv"
chq -q "SELECT type, uniqExact(visitor), uniqExact(campaign) FROM pixelring.events GROUP BY type" >"$tmp/distinct.tsv"
chq -q "SELECT * FROM pixelring.events FORMAT JSONEachRow" >"$tmp/table.ndjson"

python3 - "$tmp" "$events" "$note" <<'EOF' || fail "the table does not hold the events as sent"
import collections, json, sys

tmp, events, note = sys.argv[1], int(sys.argv[2]), sys.argv[3]
problems = []
def check(ok, what):
    if not ok:
        problems.append(what)

expected = {}
for line in open(f"{tmp}/expected.tsv", encoding="utf-8"):
    seq, type_, action, campaign, visitor = line.rstrip("\n").split("\t")
    expected[seq] = (type_, action, campaign, int(visitor))
check(len(expected) == events, f"expected.tsv has {len(expected)} events")

topic = {}
for line in open(f"{tmp}/topic.ndjson", encoding="utf-8"):
    raw = line.rstrip("\n")
    event = json.loads(raw)
    check(event["id"] not in topic, f"id {event['id']} twice on the topic")
    topic[event["id"]] = (raw, event)
seqs = collections.Counter(e["params"].get("seq") for _, e in topic.values())
check(sorted(seqs) == sorted(expected) and set(seqs.values()) == {1},
      "the topic's events are not the requests sent, once each")
for raw, e in topic.values():
    want = expected.get(e["params"].get("seq"))
    check(want is not None and (e["type"], e["action"], e["campaign"]) == want[:3],
          f"topic event {raw} is not request {want}")
    check(e["params"].get("note") == note, f"topic event {raw}: note is not {note!r}")

count, unique = map(int, open(f"{tmp}/counts.tsv").read().split())
final = int(open(f"{tmp}/final.tsv").read())
check(count == unique == len(topic) == final,
      f"count() {count}, uniqExact(id) {unique}, count() FINAL {final}, ids on the topic {len(topic)}")

rows = [json.loads(line) for line in open(f"{tmp}/table.ndjson", encoding="utf-8")]
table = {r["id"]: r for r in rows}
check(set(table) == set(topic),
      f"id sets differ: {len(set(topic) - set(table))} only on the topic, "
      f"{len(set(table) - set(topic))} only in the table")

want_actions = collections.Counter((t, a) for t, a, _, _ in expected.values())
got_actions = collections.Counter()
for line in open(f"{tmp}/by-action.tsv", encoding="utf-8"):
    t, a, n = line.rstrip("\n").split("\t")
    got_actions[(t, a)] = int(n)
check(got_actions == want_actions, f"events per type and action: {dict(got_actions)}, sent {dict(want_actions)}")

# 5 visitors (address, User-Agent) on each of 3 campaigns, per type: the collector hashes
# a beacon's campaign decoded but a pixel's, REST tuple's or redirect's as sent, so
# "spring sale é" makes other visitor ids for beacons than for the other types.
for line in open(f"{tmp}/distinct.tsv", encoding="utf-8"):
    t, visitors, campaigns = line.rstrip("\n").split("\t")
    check((visitors, campaigns) == ("15", "3"),
          f"{t}: {visitors} visitors and {campaigns} campaigns, expected 15 and 3")

# Every member of every event against its column.
plain = ["url", "path", "page_host", "referrer", "target", "visitor", "ip", "country", "region",
         "city", "as_org", "ua", "agent", "device", "browser", "os", "host"]
types_seen = set()
for id_, (raw, e) in topic.items():
    r = table.get(id_)
    if r is None:
        continue
    types_seen.add(e["type"])
    def same(column, value):
        check(r[column] == value, f"{id_}: column {column} is {r[column]!r}, the event has {value!r}")
    same("raw", raw)
    same("v", e["v"])
    same("ts", e["ts"][:10] + " " + e["ts"][11:19])
    same("ts_ms", int(e["ts"][20:23]))
    for column in ("type", "action", "collector"):
        same(column, e[column])
    same("campaign", e["campaign"] or "")
    same("campaign_is_null", int(e["campaign"] is None))
    same("params.key", list(e["params"]))
    same("params.value", list(e["params"].values()))
    same("params_truncated", int(e.get("params_truncated", False)))
    for column in plain:
        same(column, e.get(column))
    same("asn", e.get("asn"))
    same("dnt", None if "dnt" not in e else int(e["dnt"]))
    client_ts = e.get("client_ts")
    same("client_ts", None if client_ts is None else str(client_ts))
    for part in ("source", "medium", "campaign", "term", "content"):
        same(f"utm_{part}", e.get("utm", {}).get(part))
check(types_seen == {"pixel", "beacon", "rest", "redirect"}, f"event types seen: {types_seen}")

for p in problems[:20]:
    print(p)
if problems:
    print(f"{len(problems)} problems")
    sys.exit(1)
EOF

# At-least-once: the same messages once more, as a spool replay would send them (with kcat;
# without it, the rows are copied inside ClickHouse). The table then holds every event
# twice; uniqExact(id) and FINAL still count each once, and OPTIMIZE ... FINAL keeps one row
# per id (ReplacingMergeTree, id in the sorting key).
if command -v kcat >/dev/null; then
    how="sent again with kcat"
    kcat -P -b "$bootstrap" -t pixelring.events -l "$tmp/topic.ndjson" 2>"$tmp/kcat.log" ||
        fail "kcat could not produce the duplicates"
else
    how="copied with INSERT SELECT"
    chq -q "INSERT INTO pixelring.events SELECT * FROM pixelring.events"
fi
rows=0
for _ in $(seq 300); do
    rows="$(chq -q "SELECT count() FROM pixelring.events" 2>>"$tmp/client.log" || echo 0)"
    [ "$rows" -ge $((2 * events)) ] && break
    sleep 0.2
done
[ "$rows" -eq $((2 * events)) ] || fail "duplicates $how: $rows rows, expected $((2 * events))"
dups="$(chq -q "SELECT uniqExact(id), (SELECT count() FROM pixelring.events FINAL) FROM pixelring.events")"
[ "$dups" = "$events	$events" ] || fail "with every event twice, uniqExact(id) and count() FINAL are $dups, expected $events"
chq -q "OPTIMIZE TABLE pixelring.events FINAL"
after="$(chq -q "SELECT count(), uniqExact(id) FROM pixelring.events")"
[ "$after" = "$events	$events" ] || fail "after OPTIMIZE FINAL count() and uniqExact(id) are $after, expected $events"

by_type="$(awk -F'\t' '{ n[$1] += $3 } END {
    printf "%d pixel, %d beacon, %d rest, %d redirect", n["pixel"], n["beacon"], n["rest"], n["redirect"] }' \
    "$tmp/by-action.tsv")"
echo "ok: clickhouse $version: $events events ($by_type), each in pixelring.events exactly once" \
    "$seconds s after the last answer, every member round-trips; $events duplicates ($how) counted" \
    "once by uniqExact(id) and FINAL, and merged away by OPTIMIZE FINAL"
stop_clickhouse
