#!/usr/bin/env bash
# Builds pixelring (installing what it needs), starts a local development Kafka
# (pixelring-devkafka: librdkafka's mock cluster, 3 brokers, topic pixelring.events with 8
# partitions) and runs the collector on http://127.0.0.1:8080 producing to it. Ctrl-C stops
# both. Extra arguments go to pixelring.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh release
work=$(mktemp -d "${TMPDIR:-/tmp}/pixelring-kafka.XXXXXX")
build/release/tools/pixelring-devkafka --brokers 3 --topic pixelring.events:8 \
  --bootstrap-file "$work/bootstrap" --control "$work/control" &
devkafka=$!
trap 'kill "$devkafka" 2>/dev/null; wait "$devkafka" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [[ -s $work/bootstrap ]] && break; sleep 0.1; done
[[ -s $work/bootstrap ]] || { echo "run-kafka: the development Kafka did not start" >&2; exit 1; }
bootstrap=$(cat "$work/bootstrap")
echo "run-kafka: Kafka bootstrap $bootstrap, topic pixelring.events; fault commands: echo 'down all' > $work/control" >&2
build/release/tools/pixelring \
  --set server.listen=127.0.0.1:8080 \
  --set admin.listen=127.0.0.1:9090 \
  --set "sink.kafka.brokers=$bootstrap" \
  "$@"
