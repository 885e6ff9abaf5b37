#!/usr/bin/env bash
# vs_nginx_keepalive.sh: the quick peer check, keep-alive only: nginx against pixelring (file sink),
# each alone on CPU 0, wrk -t1 -c64 on CPU 1, rounds interleaved, server CPU per request.
#
#   bench/wrk/vs_nginx_keepalive.sh [rounds] [seconds] [bench/load/run.sh options]
#
# = bench/load/run.sh --servers nginx,pixelring-file --scenarios keepalive --rounds R --duration S
# (needs: apt-get install nginx wrk; nginx on 127.0.0.1:18080, refused when taken).
set -euo pipefail
rounds=3
secs=10
if (($#)) && [[ $1 =~ ^[0-9]+$ ]]; then rounds=$1; shift; fi
if (($#)) && [[ $1 =~ ^[0-9]+$ ]]; then secs=$1; shift; fi
exec "$(dirname "${BASH_SOURCE[0]}")/../load/run.sh" --servers nginx,pixelring-file --scenarios keepalive \
    --rounds "$rounds" --duration "$secs" "$@"
