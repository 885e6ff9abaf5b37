#!/usr/bin/env bash
# Builds the profile-guided pixelring (GCC's -fprofile-generate / -fprofile-use):
#   1. an instrumented build in DIR (PIXELRING_PGO=generate);
#   2. trains it: the collector on loopback, once with the file sink and once with the Kafka
#      sink on pixelring-devkafka, each driven by pixelring-pgo-train (a production-like mix of
#      pixels, beacons, preflights, REST hits, redirects, errors and malformed requests,
#      keep-alive and pipelined; tools/pgo_train.cc);
#   3. rebuilds DIR with the recorded profile (PIXELRING_PGO=use), tests included.
# Usage: scripts/build-pgo.sh [DIR]   (default build/pgo; the binary is DIR/tools/pixelring)
# Rerun it after changing the sources: a stale profile is ignored function by function.
# Installs what it needs (scripts/setup.sh) and starts only its own processes, on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build/pgo}"
case "$dir" in
-h | --help)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac

say() { echo "build-pgo: $*" >&2; }
die() {
    say "$*"
    exit 1
}

scripts/setup.sh release pixelring >/dev/null # the Debian packages; a release build as a side effect
command -v g++ >/dev/null || die "g++ not found: apt-get install build-essential"

say "1/3 instrumented build in $dir"
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=g++ \
    -DPIXELRING_PGO=generate >/dev/null
cmake --build "$dir" -j "$(nproc)" --target pixelring pixelring-devkafka pixelring-pgo-train
find "$dir" -name '*.gcda' -delete # counters of an older training would add up with these

work=$(mktemp -d "${TMPDIR:-/tmp}/pixelring-pgo.XXXXXX")
collector="" broker=""
# stop PID: SIGTERM, up to 30 s for a clean exit (when the counters are written), then
# SIGKILL; returns the process's exit status.
stop() {
    local pid=$1
    [[ -n $pid ]] || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
    local status=0
    wait "$pid" 2>/dev/null || status=$?
    return "$status"
}
cleanup() {
    stop "$collector" || true
    stop "$broker" || true
    rm -rf "$work"
}
trap cleanup EXIT

# train NAME ARGS...: runs the instrumented collector with ARGS, drives it, stops it cleanly.
train() {
    local name=$1
    shift
    local log="$work/$name.log"
    "$dir/tools/pixelring" --set server.listen=127.0.0.1:0 --set admin.listen=127.0.0.1:0 \
        --set server.workers=2 --set 'redirect.allow_hosts=["shop.example"]' "$@" \
        </dev/null >"$work/$name.out" 2>"$log" &
    collector=$!
    local port=""
    for _ in $(seq 300); do
        port=$(grep -o 'listening on 127\.0\.0\.1:[0-9]*' "$log" | head -1 | cut -d: -f2 || true)
        [[ -n $port ]] && break
        kill -0 "$collector" 2>/dev/null || { cat "$log" >&2; die "$name: the collector exited"; }
        sleep 0.1
    done
    [[ -n $port ]] || { cat "$log" >&2; die "$name: the collector did not start within 30 s"; }
    "$dir/tools/pixelring-pgo-train" --connect "127.0.0.1:$port" --requests 300000 --seconds 120 ||
        { cat "$log" >&2; die "$name: training failed"; }
    local pid=$collector status=0
    collector=""
    stop "$pid" || status=$?
    ((status == 0)) || { cat "$log" >&2; die "$name: the collector exited with $status"; }
    say "$name: $(tail -1 "$log")"
}

say "2/3 training (file sink, then Kafka sink on pixelring-devkafka)"
mkdir -p "$work/events"
train file --set sink.type=file --set "sink.file.path=$work/events/events.ndjson"

"$dir/tools/pixelring-devkafka" --brokers 1 --topic pixelring.events:8 \
    --bootstrap-file "$work/bootstrap" </dev/null >"$work/devkafka.out" 2>"$work/devkafka.log" &
broker=$!
for _ in $(seq 300); do [[ -s $work/bootstrap ]] && break; sleep 0.1; done
[[ -s $work/bootstrap ]] || { cat "$work/devkafka.log" >&2; die "pixelring-devkafka did not start"; }
train kafka --set sink.type=kafka --set "sink.kafka.brokers=$(<"$work/bootstrap")" \
    --set "spool.dir=$work/spool"
stop "$broker" || true
broker=""

profiles=$(find "$dir" -name '*.gcda' | wc -l)
((profiles > 0)) || die "the training left no profile (*.gcda) in $dir"
say "3/3 optimised build with $profiles profiles"
cmake -S . -B "$dir" -DPIXELRING_PGO=use >/dev/null
cmake --build "$dir" -j "$(nproc)"
say "done: $("$dir/tools/pixelring" --version)"
say "run it as $dir/tools/pixelring; test it with ctest --test-dir $dir"
