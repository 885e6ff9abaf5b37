#!/usr/bin/env bash
# pixel_kafka.sh: pixelring -> Kafka end to end on the development broker (pixelring-devkafka):
# the collector's CPU per request (all its threads, librdkafka's included), the broker's CPU per
# request, and the events Kafka acknowledged per second.
#
#   bench/wrk/pixel_kafka.sh [--duration S] [--warmup S] [--rounds N] [--scenarios keepalive,pipelined]
#                            [--campaigns N] [--partitions N] [--brokers N] [--broker-cpu C]
#                            [--set KEY=VALUE]... [--bin PATH] [--devkafka PATH] [--out DIR]
#
# pixelring-devkafka (librdkafka's mock cluster; default 1 broker, topic pixelring.events with 64
# partitions) runs pinned to CPU 1 (--broker-cpu); pixelring (1 worker, kafka sink, spool in a
# temp dir, ports 0) pinned to CPU 0; wrk -t1 -c64 pinned to CPU 1. Requests cycle through
# --campaigns campaign IDs (default 1000: the message key, so events spread over the
# partitions; 1 = pixel_load.sh's single URL). Each scenario gets a warm-up, then a measured
# wrk run; the CPU of both processes (utime+stime of all threads, /proc/<pid>/stat) and the
# collector's /metrics are read right before and after it. --set is passed to pixelring (e.g.
# --set sink.kafka.properties.linger.ms=20). At the end pixelring is stopped with SIGTERM and
# must report every accepted event delivered (none spooled, none dropped; else the spool is kept).
# The mock keeps only ~5 MiB per partition and drops its oldest batches beyond that (produce
# requests still succeed): delivery is counted from the producer's delivery reports, not by
# reading the topic back, and the broker's memory stays below partitions x 5 MiB.
# Exit: 0 ok, 1 error, 2 missing tool, 3 events not delivered (spooled, dropped or unaccounted).
# Installs nothing; kills only the processes it started, by PID.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

duration=10
warmup=2
rounds=3
scenarios=keepalive
campaigns=1000
partitions=64
brokers=1
broker_cpu=1
bin=$repo/build/release/tools/pixelring
devkafka=""
out=""
extra_sets=()

topic=pixelring.events
single_path='/track/pageview.gif?campaignID=example.com&scroll-depth=70%25&dark-mode=true'
referer='https://example.com/blog/post?utm_source=news'
user_agent='Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
pipeline_depth=16
start_timeout_s=15
stop_timeout_s=120

usage() { sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "pixel_kafka: $*" >&2; exit 1; }

while (($#)); do
    opt=$1
    val=""
    case $opt in
        -h|--help) usage; exit 0 ;;
        --*=*) val=${opt#*=}; opt=${opt%%=*} ;;
        --*) (($# >= 2)) || die "$opt needs a value"; val=$2; shift ;;
        *) die "unknown argument: $opt (see --help)" ;;
    esac
    shift
    case $opt in
        --duration) duration=$val ;;
        --warmup) warmup=$val ;;
        --rounds) rounds=$val ;;
        --scenarios) scenarios=$val ;;
        --campaigns) campaigns=$val ;;
        --partitions) partitions=$val ;;
        --brokers) brokers=$val ;;
        --broker-cpu) broker_cpu=$val ;;
        --set) extra_sets+=(--set "$val") ;;
        --bin) bin=$val ;;
        --devkafka) devkafka=$val ;;
        --out) out=$val ;;
        *) die "unknown option: $opt (see --help)" ;;
    esac
done

whole() { # name value min: a whole number >= min
    if ! [[ $2 =~ ^[0-9]+$ ]] || ((10#$2 < $3)); then die "$1: a whole number >= $3"; fi
}
whole --duration "$duration" 1
whole --warmup "$warmup" 0
whole --rounds "$rounds" 1
whole --campaigns "$campaigns" 1
whole --partitions "$partitions" 1
whole --brokers "$brokers" 1
whole --broker-cpu "$broker_cpu" 0
duration=$((10#$duration)) warmup=$((10#$warmup)) rounds=$((10#$rounds))
campaigns=$((10#$campaigns)) partitions=$((10#$partitions)) brokers=$((10#$brokers))
broker_cpu=$((10#$broker_cpu))
((campaigns <= 100000)) || die "--campaigns: at most 100000"
((partitions <= 10000)) || die "--partitions: at most 10000 (pixelring-devkafka's limit)"
((brokers <= 16)) || die "--brokers: at most 16 (pixelring-devkafka's limit)"
IFS=, read -ra scenario_list <<<"$scenarios"
((${#scenario_list[@]})) || die "--scenarios: empty"
for s in "${scenario_list[@]}"; do
    case $s in keepalive|pipelined) ;; *) die "unknown scenario: $s (keepalive, pipelined)" ;; esac
done

if ! command -v wrk >/dev/null; then
    echo "pixel_kafka: wrk is not installed: apt-get install wrk" >&2
    exit 2
fi
for tool in taskset timeout getconf tail awk curl; do
    command -v "$tool" >/dev/null || { echo "pixel_kafka: $tool is missing" >&2; exit 2; }
done
[[ -x $bin ]] || die "no executable pixelring at $bin (build: cmake --preset release && cmake --build --preset release, or --bin PATH)"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
[[ -n $devkafka ]] || devkafka=$(dirname "$bin")/pixelring-devkafka
[[ -x $devkafka ]] || die "no executable pixelring-devkafka at $devkafka (--devkafka PATH)"
devkafka=$(cd "$(dirname "$devkafka")" && pwd)/$(basename "$devkafka")
taskset -c "0,1,$broker_cpu" true 2>/dev/null ||
    die "CPUs 0, 1 and $broker_cpu are needed (pixelring on 0, wrk on 1, the broker on $broker_cpu); nproc says $(nproc)"

clk_tck=$(getconf CLK_TCK)
work=$(mktemp -d "${TMPDIR:-/tmp}/pixel_kafka.XXXXXX")
if [[ -z $out ]]; then
    out=$(mktemp -d "${TMPDIR:-/tmp}/pixel_kafka_out.XXXXXX")
else
    mkdir -p "$out"
fi
out=$(cd "$out" && pwd)
mkdir -p "$work/spool" "$out/wrk"
server_log=$out/server.log
broker_log=$out/devkafka.log
runs_tsv=$out/runs.tsv
server_pid=""
broker_pid=""
wrk_pid=""
keep_work=0

stop_pid() { # pid name: SIGTERM, up to 30 s, then SIGKILL
    local pid=$1
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    echo "pixel_kafka: stopping $2 (pid $pid)" >&2
    kill -TERM "$pid" 2>/dev/null || true
    if ! timeout 30 tail --pid="$pid" -f /dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $wrk_pid ]] && kill -0 "$wrk_pid" 2>/dev/null; then
        kill -TERM "$wrk_pid" 2>/dev/null || true
        wait "$wrk_pid" 2>/dev/null || true
    fi
    stop_pid "$server_pid" pixelring # before the broker: it flushes to it
    stop_pid "$broker_pid" pixelring-devkafka
    if ((keep_work)); then
        echo "pixel_kafka: kept the spool in $work/spool" >&2
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A reproducible server: no PIXELRING_* or NanoTrack variables from this shell.
env_clear=()
while IFS= read -r v; do
    case $v in
        PIXELRING_*|DB_TYPE|DISABLE_IP_TRACKING|DISABLE_USER_AGENT_TRACKING|DASHBOARD_USER|DASHBOARD_PASSWORD|TRACKING_IMAGE)
            env_clear+=(-u "$v") ;;
    esac
done < <(compgen -e)

# --- the development broker
: >"$broker_log"
taskset -c "$broker_cpu" "$devkafka" --brokers "$brokers" --topic "$topic:$partitions" \
    --bootstrap-file "$work/bootstrap" </dev/null >"$out/devkafka.stdout" 2>"$broker_log" &
broker_pid=$!
deadline=$((SECONDS + start_timeout_s))
until [[ -s $work/bootstrap ]]; do
    if ! kill -0 "$broker_pid" 2>/dev/null; then
        cat "$broker_log" >&2
        broker_pid=""
        die "pixelring-devkafka exited before writing its bootstrap file"
    fi
    ((SECONDS < deadline)) || die "pixelring-devkafka wrote no bootstrap file within ${start_timeout_s}s"
    sleep 0.05
done
bootstrap=$(<"$work/bootstrap")

# --- the collector
: >"$server_log"
(
    cd "$work"
    exec env "${env_clear[@]}" taskset -c 0 "$bin" \
        --set server.listen=127.0.0.1:0 --set admin.listen=127.0.0.1:0 \
        --set server.workers=1 --set sink.type=kafka \
        --set "sink.kafka.brokers=$bootstrap" --set "sink.kafka.topic=$topic" \
        --set "spool.dir=$work/spool" "${extra_sets[@]}"
) </dev/null >"$out/server.stdout" 2>"$server_log" &
server_pid=$!

port=""
admin_port=""
deadline=$((SECONDS + start_timeout_s))
while :; do
    line=$(grep -m1 -E '^pixelring .* listening on ' "$server_log" || true)
    if [[ $line =~ listening\ on\ 127\.0\.0\.1:([0-9]+)\ admin\ 127\.0\.0\.1:([0-9]+)\ workers\ ([0-9]+)\ sink\ ([a-z]+) ]]; then
        port=${BASH_REMATCH[1]}
        admin_port=${BASH_REMATCH[2]}
        [[ ${BASH_REMATCH[3]} == 1 && ${BASH_REMATCH[4]} == kafka ]] || die "unexpected start line: $line"
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        cat "$server_log" >&2
        server_pid=""
        die "pixelring exited before listening"
    fi
    if ((SECONDS >= deadline)); then
        cat "$server_log" >&2
        die "pixelring did not print its start line within ${start_timeout_s}s"
    fi
    sleep 0.05
done
version=$(awk '/ listening on /{print $2; exit}' "$server_log")
base="http://127.0.0.1:$port"

metrics() { curl -s --max-time 5 "http://127.0.0.1:$admin_port/metrics" || true; }
outcome_of() { # outcome: pixelring_events_total{outcome="..."}; delivered falls back to written
    awk -v o="$1" '
        $1 == "pixelring_events_total{outcome=\"" o "\"}" {print $2; found = 1; exit}
        o == "delivered" && $1 == "pixelring_events_total{outcome=\"written\"}" {w = $2}
        END {if (!found) print w + 0}'
}
dropped_of() { awk '/^pixelring_events_dropped_total\{/{n += $2} END{print n + 0}'; }
queued_of() { awk '$1 == "pixelring_sink_queued_events" {print $2; exit}'; }
non2xx_of() { # sum of http_requests_total with a status other than 2xx
    awk '/^pixelring_http_requests_total\{/ && !/status="2[0-9][0-9]"/{n += $2} END{print n + 0}'
}

# One probe hit: answered with the GIF and acknowledged by Kafka within 15 s.
code=$(curl -s --max-time 5 -o "$work/probe.gif" -w '%{http_code} %{content_type}' \
    -H "Referer: $referer" -H "User-Agent: $user_agent" "$base$single_path" || true)
[[ $code == "200 image/gif" ]] || die "probe GET $base$single_path answered '$code', not '200 image/gif'"
deadline=$((SECONDS + 15))
until (($(metrics | outcome_of delivered) >= 1)); do
    ((SECONDS < deadline)) || { cat "$server_log" >&2; die "the probe event was not delivered to Kafka within 15 s"; }
    sleep 0.1
done

# Requests cycle through the campaign IDs (precomputed, so wrk formats nothing per request);
# with pipelining each entry holds $2 requests.
cat >"$work/campaigns.lua" <<'LUA'
init = function(args)
    local n = tonumber(args[1]) or 1
    local depth = tonumber(args[2]) or 1
    reqs = {}
    for i = 0, n - 1 do
        local batch = {}
        for d = 0, depth - 1 do
            local path = string.format(
                "/track/pageview.gif?campaignID=site%04d.com&scroll-depth=70%%25&dark-mode=true",
                (i * depth + d) % n)
            batch[#batch + 1] = wrk.format(nil, path)
        end
        reqs[i + 1] = table.concat(batch)
    end
    next_req = 0
end
request = function()
    next_req = next_req % #reqs + 1
    return reqs[next_req]
end
LUA

cpu_ticks() { # utime + stime of the whole process (fields 14, 15 of /proc/<pid>/stat)
    local s rest
    s=$(<"/proc/$1/stat")
    rest=${s##*) }
    local -a f
    read -ra f <<<"$rest"
    echo $((f[11] + f[12]))
}

run_wrk() { # scenario seconds output-file
    local sc=$1 secs=$2 file=$3 rc=0 depth=1
    [[ $sc == pipelined ]] && depth=$pipeline_depth
    local -a args=(-t1 -c64 "-d${secs}s" --latency -H "Referer: $referer" -H "User-Agent: $user_agent")
    local -a tail_args=()
    local url=$base$single_path
    if ((campaigns > 1 || depth > 1)); then
        args+=(-s "$work/campaigns.lua")
        tail_args=(-- "$campaigns" "$depth")
        url=$base/
    fi
    timeout $((secs + 30)) taskset -c 1 wrk "${args[@]}" "$url" "${tail_args[@]}" >"$file" 2>&1 &
    wrk_pid=$!
    wait "$wrk_pid" || rc=$?
    wrk_pid=""
    if ((rc != 0)); then
        cat "$file" >&2
        die "wrk ($sc) failed with status $rc"
    fi
}

cpu_busy() { # busy ticks of CPU $1 (user nice system irq softirq steal; /proc/stat)
    awk -v c="cpu$1" '$1 == c {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat
}

now() { date +%s.%N; }

children_cpu() { # sets $1 to the user+sys seconds of this shell's reaped children (wrk via timeout)
    times >"$work/times" # in this shell, not in a $(...) subshell
    printf -v "$1" '%s' "$(awk 'NR == 2 {t = 0; for (i = 1; i <= 2; i++) {split($i, a, "m"); t += a[1] * 60 + a[2]}; print t}' "$work/times")"
}

echo "pixel_kafka: pixelring $version pid $server_pid on 127.0.0.1:$port (admin $admin_port), CPU 0; wrk on CPU 1"
echo "pixel_kafka: pixelring-devkafka pid $broker_pid at $bootstrap, CPU $broker_cpu: $brokers broker(s), topic $topic with $partitions partitions; $campaigns campaign(s)"
read -r load1 _ </proc/loadavg
if awk -v l="$load1" 'BEGIN{exit !(l > 1.5)}'; then
    echo "pixel_kafka: WARNING: load average $load1 on $(nproc) CPUs: other work competes with the server and wrk"
fi
echo "pixel_kafka: $rounds round(s) of ${scenario_list[*]}: warm-up ${warmup}s, measured ${duration}s, wrk -t1 -c64; out $out"
printf 'round\tscenario\trequests\treq_per_s\tp99_ms\tcpu_ticks\twall_s\tus_per_req\tcpu_pct\tbroker_ticks\tbroker_us_per_req\tdelivered\tdelivered_per_s\tqueued_after\tsocket_errors\tnon2xx_wrk\tserver_accepted\tserver_non2xx\tcpu0_other_pct\twrk_cpu_pct\tserver_dropped\n' >"$runs_tsv"

k0=0 k1=0
for ((r = 1; r <= rounds; r++)); do
    for sc in "${scenario_list[@]}"; do
        if ((warmup > 0)); then
            run_wrk "$sc" "$warmup" "$out/wrk/r${r}-${sc}-warmup.txt"
        fi
        file=$out/wrk/r${r}-${sc}.txt
        m0=$(metrics)
        b0=$(cpu_busy 0)
        children_cpu k0
        t0=$(now)
        c0=$(cpu_ticks "$server_pid")
        d0=$(cpu_ticks "$broker_pid")
        run_wrk "$sc" "$duration" "$file"
        c1=$(cpu_ticks "$server_pid")
        d1=$(cpu_ticks "$broker_pid")
        t1=$(now)
        children_cpu k1
        b1=$(cpu_busy 0)
        m1=$(metrics)

        requests=$(awk '/ requests in /{print $1; exit}' "$file")
        rps=$(awk '/^Requests\/sec:/{print $2; exit}' "$file")
        p99=$(awk '/Latency Distribution/{d = 1} d && $1 == "99%" {
                v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
                f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : -1
                if (v * f > 0) printf "%.3f", v * f; else printf "n/a"; exit }' "$file")
        sock=$(awk '/Socket errors:/{sub(/^ *Socket errors: */, ""); print; exit}' "$file")
        non2xx=$(awk '/Non-2xx or 3xx responses:/{print $NF; exit}' "$file")
        [[ -n $requests && -n $rps && -n $p99 ]] || { cat "$file" >&2; die "cannot parse wrk output ($file)"; }
        ((requests > 0)) || { cat "$file" >&2; die "wrk completed no request ($sc)"; }
        [[ -n $m0 && -n $m1 ]] || die "no /metrics from 127.0.0.1:$admin_port"
        dt=$((c1 - c0))
        ddt=$((d1 - d0))
        acc=$(($(outcome_of accepted <<<"$m1") - $(outcome_of accepted <<<"$m0")))
        dlv=$(($(outcome_of delivered <<<"$m1") - $(outcome_of delivered <<<"$m0")))
        drop=$(($(dropped_of <<<"$m1") - $(dropped_of <<<"$m0")))
        srv_non2xx=$(($(non2xx_of <<<"$m1") - $(non2xx_of <<<"$m0")))
        queued=$(queued_of <<<"$m1")
        # other = CPU 0 busy time not spent by pixelring (other processes, steal)
        # wrkcpu = wrk's own CPU (children of this shell)
        read -r wall us cpu bus dps other wrkcpu < <(awk -v a="$t0" -v b="$t1" -v d="$dt" -v bd="$ddt" \
            -v hz="$clk_tck" -v n="$requests" -v dl="$dlv" -v o=$((b1 - b0 - dt)) -v k0="$k0" -v k1="$k1" 'BEGIN{w = b - a
                printf "%.3f %.3f %.1f %.3f %.0f %.1f %.1f\n", w, d / hz * 1e6 / n, d / hz / w * 100,
                    bd / hz * 1e6 / n, dl / w, (o > 0 ? o : 0) / hz / w * 100, (k1 - k0) / w * 100}')
        # The server's count checks wrk's: wrk counts responses (also when pipelining); the server
        # may have taken up to connections x depth more (in flight when wrk stopped).
        if ((acc + drop < requests || acc + drop > requests + 64 * pipeline_depth)); then
            echo "  !! $sc round $r: server accepted $acc and dropped $drop events but wrk counted $requests requests"
        fi
        if ((drop > 0)); then
            echo "  !! $sc round $r: the server DROPPED $drop events (see pixelring_events_dropped_total)"
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$sc" "$requests" "$rps" "$p99" \
            "$dt" "$wall" "$us" "$cpu" "$ddt" "$bus" "$dlv" "$dps" "${queued:--}" "${sock:-none}" "${non2xx:-0}" "$acc" "$srv_non2xx" \
            "$other" "$wrkcpu" "$drop" >>"$runs_tsv"
        printf 'round %d %-9s %9.0f req/s  %6.3f us/req collector CPU (%5.1f%%)  %6.3f us/req broker CPU  %9s delivered/s  p99 %s ms  (%s requests in %ss; accepted %s, delivered %s, dropped %s, queued after %s; CPU 0 other %s%%; wrk %s%% CPU)\n' \
            "$r" "$sc" "$rps" "$us" "$cpu" "$bus" "$dps" "$p99" "$requests" "$wall" "$acc" "$dlv" "$drop" "${queued:--}" "$other" "$wrkcpu"
        if awk -v o="$other" 'BEGIN{exit !(o > 10)}'; then
            echo "  !! CPU 0 was ${other}% busy with other work (not pixelring): req/s and latency are not the server's own"
        fi
        if [[ -n $sock || ${non2xx:-0} != 0 || $srv_non2xx != 0 ]]; then
            echo "  !! $sc round $r: socket errors: ${sock:-none}; wrk non-2xx/3xx: ${non2xx:-0}; server non-2xx: $srv_non2xx"
        fi
    done
done

# Stop the collector (it flushes the producer) and check that Kafka acknowledged every event.
kill -TERM "$server_pid"
timeout "$stop_timeout_s" tail --pid="$server_pid" -f /dev/null ||
    die "pixelring did not stop within ${stop_timeout_s}s of SIGTERM"
server_rc=0
wait "$server_pid" || server_rc=$?
server_pid=""
stop_line=$(grep -m1 'pixelring: stopped:' "$server_log" || true)
[[ $stop_line =~ stopped:\ ([0-9]+)\ events\ accepted,\ ([0-9]+)\ (delivered|written), ]] ||
    { cat "$server_log" >&2; die "no 'pixelring: stopped:' line (exit status $server_rc)"; }
accepted=${BASH_REMATCH[1]}
delivered=${BASH_REMATCH[2]}
spooled=0
[[ $stop_line =~ \ ([0-9]+)\ spooled ]] && spooled=${BASH_REMATCH[1]}
dropped=0
[[ $stop_line =~ \ ([0-9]+)\ dropped ]] && dropped=${BASH_REMATCH[1]}
stop_pid "$broker_pid" pixelring-devkafka
broker_pid=""

{
    echo "# pixelring -> Kafka: wrk, kafka sink, 1 worker, pixelring-devkafka on the same machine"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); pixelring $version ($(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)); $(wrk --version 2>&1 | head -1 | awk '{print $1, $2}')"
    echo "- host: $(nproc) CPUs ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)), kernel $(uname -r); pixelring on CPU 0, wrk on CPU 1, pixelring-devkafka on CPU $broker_cpu"
    echo "- broker: pixelring-devkafka --brokers $brokers --topic $topic:$partitions; $campaigns campaign ID(s) (message keys)${extra_sets[*]:+; pixelring ${extra_sets[*]}}"
    echo "- command: bench/wrk/pixel_kafka.sh --duration $duration --warmup $warmup --rounds $rounds --scenarios $scenarios --campaigns $campaigns --partitions $partitions --brokers $brokers${extra_sets[*]:+ ${extra_sets[*]}}"
    echo "- each run: warm-up ${warmup}s, then \`wrk -t1 -c64 -d${duration}s --latency\`; pipelined = $pipeline_depth requests per write"
    echo "- CPU = utime+stime of all threads of the process over the measured window, per wrk request; delivered/s = pixelring_events_total{outcome=\"delivered\"} over the window"
    echo
    echo "| scenario | runs | req/s median | collector CPU µs/req median | min–max | broker CPU µs/req median | delivered/s median | p99 ms median | collector CPU % median | wrk CPU % median | CPU 0 other % median | events dropped (sum) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for sc in "${scenario_list[@]}"; do
        awk -F'\t' -v sc="$sc" '
            function med(a, n,   i, j, t) {
                for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
                return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
            }
            NR > 1 && $2 == sc { n++; rps[n] = $4 + 0; us[n] = $8 + 0; cpu[n] = $9 + 0; bus[n] = $11 + 0; dps[n] = $13 + 0
                if ($5 != "n/a") p99[++np] = $5 + 0; oth[n] = $19 + 0; wc[n] = $20 + 0; drop += $21 }
            END {
                if (!n) exit
                mu = med(us, n); ulo = us[1]; uhi = us[n]
                printf "| %s | %d | %.0f | %.3f | %.3f–%.3f | %.3f | %.0f | %s | %.1f | %.1f | %.1f | %d |\n",
                    sc, n, med(rps, n), mu, ulo, uhi, med(bus, n), med(dps, n),
                    (np ? sprintf("%.3f", med(p99, np)) : "n/a"), med(cpu, n), med(wc, n), med(oth, n), drop
            }' "$runs_tsv"
    done
    echo
    echo "wrk CPU % = the client's own CPU (one core = 100): near 100 the client, not the server, sets req/s."
    echo "CPU 0 other % = CPU 0 busy time (/proc/stat) not spent by pixelring: other processes or steal."
    echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo "Events: $stop_line"
} >"$out/results.md"

echo
cat "$out/results.md"
echo
echo "pixel_kafka: server: $stop_line"
status=0
if [[ $delivered != "$accepted" || $spooled != 0 || $dropped != 0 || $server_rc != 0 ]]; then
    keep_work=1
    {
        echo "################################################################"
        echo "## pixel_kafka: WARNING: EVENTS NOT DELIVERED"
        echo "## accepted $accepted, delivered $delivered, spooled $spooled, dropped $dropped, exit status $server_rc"
        echo "################################################################"
    } >&2
    status=3
else
    echo "pixel_kafka: OK: Kafka acknowledged every accepted event ($delivered)"
fi
echo "pixel_kafka: results in $out/results.md (per run: $runs_tsv, wrk output: $out/wrk/, logs: $server_log, $broker_log)"
exit "$status"
