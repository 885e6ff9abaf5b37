#!/usr/bin/env bash
# Builds pixelring (installing what it needs) and runs it on http://127.0.0.1:8080 with the
# file sink. Extra arguments go to pixelring, e.g. scripts/run.sh --set server.workers=1
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh release
events="${PIXELRING_EVENTS:-$PWD/events.ndjson}"
echo "run: events are appended to $events (one JSON object per line); Ctrl-C stops" >&2
exec build/release/tools/pixelring \
  --set server.listen=127.0.0.1:8080 \
  --set admin.listen=127.0.0.1:9090 \
  --set sink.type=file \
  --set "sink.file.path=$events" \
  "$@"
