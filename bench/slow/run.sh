#!/usr/bin/env bash
# shellcheck disable=SC2034,SC2154  # globals shared with bench/load/lib.sh
# run.sh: legitimate traffic while slow clients attack, against one pixelring worker with the
# default limits: the share of real beacons answered 204 and the pixels' latency, without and
# with the attack, on one machine.
#
#   bench/slow/run.sh [--bin PATH] [--slow-bodies N] [--slow-heads N] [--duration S]
#                     [--rounds N] [--out DIR] [--set KEY=VALUE]...
#
# pixelring (bench/load/lib.sh: one worker on CPU 0, file sink, loopback ports the kernel picks)
# gets, for --duration seconds (default 5) each, at the same time:
#   - pixels: wrk -t1 -c16 --latency, keep-alive GET /track/open.gif?campaignID=bench;
#   - beacons: wrk -t1 -c4 -s beacon.lua, POST /e with a 57-byte JSON body (sendBeacon's shape);
# first alone (the baseline), then while slowhttptest holds --slow-bodies connections (default
# 2000) sending POST /e bodies of Content-Length 4096 a few bytes every 10 s (-B) and
# --slow-heads connections (default 4000) sending a header line every 10 s (-H), one
# slowhttptest per 1,000 connections. The measured run starts 3 s later, when they are open,
# and ends inside the 10 s that server.header_timeout_ms gives each of them; the connections
# open at its middle (admin /metrics) are reported. wrk and slowhttptest run on CPU 1,
# slowhttptest at nice 19: it polls its sockets without pause and would otherwise take most
# of that CPU from wrk, measuring the load generator instead of the server (the attackers of
# a real attack run on machines of their own).
# Each round (default 3) starts a fresh pixelring. Prints a table per round and the medians:
# beacons answered, 204 among them (non-2xx and socket errors count against), pixel p50/p99,
# connections open during the measured run; writes runs.tsv and the logs to --out (default a
# new temp dir). Before/after: run it with --bin of each build.
# Exit: 0 measured, 1 error, 2 missing tool. Loopback only; stops only what it started, by PID.
set -euo pipefail
load_name=slow
load_activated=0
# shellcheck source=../load/lib.sh source-path=SCRIPTDIR
source "$(cd "$(dirname "$0")" && pwd)/../load/lib.sh"
slow_dir=$(cd "$(dirname "$0")" && pwd)

bin="$load_repo/build/release/tools/pixelring"
bodies=2000
heads=4000
duration=5
rounds=3
out=""
sets=()
while (($#)); do
    case $1 in
    --bin) bin=$2; shift 2 ;;
    --slow-bodies) bodies=$2; shift 2 ;;
    --slow-heads) heads=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --set) sets+=(--set "$2"); shift 2 ;;
    -h | --help) sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) load_die "unknown option $1 (see --help)" ;;
    esac
done
load_whole --slow-bodies "$bodies" 0
load_whole --slow-heads "$heads" 0
load_whole --duration "$duration" 1
load_whole --rounds "$rounds" 1
((duration <= 5)) || load_die "--duration: at most 5, so that the measured run ends before the first slow client's 10 s header timeout"
load_need wrk wrk
load_need slowhttptest slowhttptest
[[ -x $bin ]] || load_die "no pixelring at $bin (cmake --build --preset release)"
bin=$(realpath "$bin")
[[ -n $out ]] || out=$(mktemp -d /tmp/pixelring-slow.XXXXXX)
mkdir -p "$out"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
((bodies + heads + 1024 <= $(ulimit -n))) || load_die "open files limit $(ulimit -n) is below the attack's $((bodies + heads)) connections"

attack_pids=()
stop_attack() {
    local pid
    for pid in "${attack_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    attack_pids=()
}
trap 'stop_attack; load_cleanup' EXIT INT TERM

metric() { # series: its value in pixelring's /metrics, or 0
    curl -s "http://127.0.0.1:$px_admin_port/metrics" | awk -v s="$1" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }'
}

# wrk output -> "requests non2xx errors p50_ms p99_ms"
wrk_fields() {
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        / requests in / { req = $1 }
        /Non-2xx or 3xx responses:/ { bad = $NF }
        /Socket errors:/ { gsub(",", ""); err = $4 + $6 + $8 + $10 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        END { printf "%d %d %d %.3f %.3f\n", req, bad, err, p50, p99 }' "$1"
}

measure() { # label: both wrk runs at once; appends a line to runs.tsv
    local label=$1 pixel_log="$out/$1-$round-pixels.txt" beacon_log="$out/$1-$round-beacons.txt" open
    taskset -c 1 wrk -t1 -c16 -d"${duration}s" --latency \
        "http://127.0.0.1:$px_port/track/open.gif?campaignID=bench" >"$pixel_log" 2>&1 &
    local pixel_pid=$!
    taskset -c 1 wrk -t1 -c4 -d"${duration}s" -s "$slow_dir/beacon.lua" \
        "http://127.0.0.1:$px_port/e" >"$beacon_log" 2>&1 &
    local beacon_pid=$!
    sleep $((duration / 2))
    open=$(metric pixelring_connections_open)
    wait "$pixel_pid" "$beacon_pid"
    read -r preq _ _ p50 p99 < <(wrk_fields "$pixel_log")
    read -r breq bbad berr _ _ < <(wrk_fields "$beacon_log")
    local ok=$((breq - bbad)) total=$((breq + berr))
    local share
    share=$(awk -v ok="$ok" -v t="$total" 'BEGIN { printf "%.2f", t ? 100 * ok / t : 0 }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$label" "$total" "$ok" "$share" \
        "$p50" "$p99" "$preq" "$open" >>"$out/runs.tsv"
    printf '%-8s round %d: beacons %6d, 204 %6d (%6s %%); pixels %7d, p50 %6.3f ms, p99 %6.3f ms; %5d connections open\n' \
        "$label" "$round" "$total" "$ok" "$share" "$preq" "$p50" "$p99" "$open"
}

printf 'round\trun\tbeacons\tbeacons_204\tshare_204\tpixel_p50_ms\tpixel_p99_ms\tpixels\tconnections_open\n' >"$out/runs.tsv"
echo "slow: $bin, 1 worker, default limits; $bodies slow bodies + $heads slow heads; ${duration}s runs; out $out"
for ((round = 1; round <= rounds; round++)); do
    mkdir -p "$out/px-$round"
    load_start_pixelring "$bin" file "$out/px-$round" "$out/pixelring-$round.log" "${sets[@]}"
    measure baseline
    # slowhttptest opens about 500 connections a second: one instance per 1,000 connections
    # gets them all open within about 2 s.
    for ((left = bodies; left > 0; left -= 1000)); do
        taskset -c 1 nice -n 19 slowhttptest -B -c $((left < 1000 ? left : 1000)) -r 1000 -i 10 -s 4096 \
            -x 10 -l 30 -p 3 -t POST -u "http://127.0.0.1:$px_port/e" \
            >"$out/slowbody-$round-$left.log" 2>&1 &
        attack_pids+=($!)
    done
    for ((left = heads; left > 0; left -= 1000)); do
        taskset -c 1 nice -n 19 slowhttptest -H -c $((left < 1000 ? left : 1000)) -r 1000 -i 10 -x 10 \
            -l 30 -p 3 -u "http://127.0.0.1:$px_port/track/open.gif?campaignID=slow" \
            >"$out/slowhead-$round-$left.log" 2>&1 &
        attack_pids+=($!)
    done
    sleep 3
    measure attack
    stop_attack
    load_stop_pid "$server_pid" pixelring
    server_pid=""
done

echo "medians over $rounds rounds:"
awk -F'\t' 'NR > 1 { n[$2]++; share[$2, n[$2]] = $5; p99[$2, n[$2]] = $7; p50[$2, n[$2]] = $6 }
    function med(a, k, c,   i, j, t, v) { for (i = 1; i <= c; i++) v[i] = a[k, i]
        for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
        return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2 }
    END { for (k in n) printf "  %-8s beacons 204: %s %%, pixel p50 %s ms, p99 %s ms\n", k, med(share, k, n[k]), med(p50, k, n[k]), med(p99, k, n[k]) }' \
    "$out/runs.tsv" | sort
