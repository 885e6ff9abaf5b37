#!/usr/bin/env bash
# pixel_kafka.sh: pixelring -> Kafka (pixelring-devkafka on CPU 1) under wrk, keep-alive, requests
# cycling through 1000 campaign IDs (the message keys, spread over 64 partitions):
# bench/load/run.sh --servers pixelring-kafka --scenarios keepalive --campaigns 1000.
#
#   bench/wrk/pixel_kafka.sh [bench/load/run.sh options]   e.g. --scenarios keepalive,pipelined
#
# Reports the collector's CPU per request (all threads, librdkafka's included), the broker's, and
# the events Kafka acknowledged per second. Exit 3 unless delivered + spooled = accepted and
# none dropped. Options: --partitions, --brokers, --broker-cpu, --devkafka, --set KEY=VALUE;
# see bench/load/run.sh --help.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/../load/run.sh" --servers pixelring-kafka --scenarios keepalive \
    --campaigns 1000 "$@"
