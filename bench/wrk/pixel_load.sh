#!/usr/bin/env bash
# pixel_load.sh: pixelring alone (file sink) under wrk: bench/load/run.sh --servers pixelring-file.
#
#   bench/wrk/pixel_load.sh [bench/load/run.sh options]   e.g. --duration 3 --warmup 1 --rounds 1
#
# Scenarios keepalive, close, pipelined; --set KEY=VALUE goes to pixelring, --header to every
# request. Exit 3 when the event file does not match what the server accepted, or it dropped
# events. See bench/load/run.sh --help and bench/wrk/README.md.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/../load/run.sh" --servers pixelring-file "$@"
