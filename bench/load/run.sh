#!/usr/bin/env bash
# run.sh: pixelring against nginx under wrk (and tls_load for HTTPS), on one machine: server
# CPU per request.
#
#   bench/load/run.sh [--rounds N] [--duration S] [--warmup S] [--quick] [--activated]
#                     [--servers pixelring-file,pixelring-kafka,nginx,floor]
#                     [--scenarios keepalive,close,pipelined,https-keepalive,https-resumed,
#                                  https-full]
#                     [--out DIR] [--bin PATH] [--devkafka PATH] [--floor PATH] [--tls-load PATH]
#                     [--nginx-port N] [--nginx-tls-port N]
#                     [--set KEY=VALUE]... [--header 'NAME: VALUE']...
#                     [--campaigns N] [--partitions N] [--brokers N] [--broker-cpu C]
#
# Servers, each alone and pinned to CPU 0 while it is measured: pixelring-file (file sink),
# pixelring-kafka (Kafka sink; pixelring-devkafka, topic pixelring.events, pinned to
# --broker-cpu, default 1), nginx (Debian package: empty_gif, a JSON access log with
# buffer=64k flush=1s, one process, pixelring's cache headers, 127.0.0.1:--nginx-port, default
# 18080; refused when the port is taken), floor (io_uring floor: the kernel's share;
# bench/floor_server: pixelring's io_uring set-up answering every request head with pixelring's
# pixel answer and doing no other work, no events: the cost of answering with no work, what any
# io_uring server answering this way pays; --floor PATH, default bench/floor_server of --bin's
# build tree, BUILD/tools/pixelring -> BUILD/bench/floor_server). pixelring (one worker) and
# floor listen on ports 0 (the kernel picks). wrk -t1 -c64 runs pinned to CPU 1:
# GET /track/pageview.gif?campaignID=example.com&scroll-depth=70%25&dark-mode=true with a
# Referer and a Chrome User-Agent. Scenarios: keepalive, close (Connection: close), pipelined
# (16 requests per write) (default: these three), and over HTTPS: https-keepalive (wrk -t1 -c64
# as keepalive, on TLS), https-resumed (bench/tls_load, pinned to CPU 1 as wrk: 64 connections
# at once, each hit a new TCP+TLS connection, one GET with Connection: close, read to the
# server's close; each resumes the session, TLS 1.3 PSK with an X25519 share, from the ticket
# its slot's previous connection got, the warm-up's tickets carried into the measured run), and
# https-full (the same without tickets: a full handshake per hit). HTTPS: one self-signed ECDSA
# P-256 certificate made by the script (openssl) for both servers; TLS 1.3 only; the clients
# offer only TLS_AES_128_GCM_SHA256 and X25519 (tls_load by its own settings, wrk through an
# OPENSSL_CONF system_default), so both servers negotiate those; nginx: ssl_protocols TLSv1.3,
# that suite and curve, ssl_session_tickets on and a shared session cache, on 127.0.0.1
# :--nginx-tls-port (default 18443); pixelring: server.tls_listen on port 0, tls.min_version
# 1.3 (its suites stay Mozilla's intermediate list). The probe also goes over HTTPS (curl,
# the chain checked). floor has no TLS: HTTPS scenarios are skipped for it. https-resumed:
# fewer than 95 % of the handshakes that offered a ticket resumed (or https-full: any resumed)
# is a loud warning and exit status 4, so a server that does not resume cannot look fast.
# results.md then also gives requests (handshakes) per server CPU-second. --tls-load PATH:
# default bench/tls_load of --bin's build tree. Each run: a warm-up (default 2 s), then a
# measured client run (wrk or tls_load; default 10 s) with the server's CPU (utime+stime, all
# threads, /proc/<pid>/stat) read right before and after. Rounds are interleaved: a round
# starts each server, runs every scenario on it and stops it; the server order rotates by one
# each round. --quick: 1 round of 2 s runs after 1 s warm-ups (options given win).
# --activated: pixelring gets its listening sockets from systemd-socket-activate, as from
# pixelring.socket under systemd, instead of binding its own.
# After each pixelring, its stop line is checked: file sink: event file lines = accepted =
# written; Kafka: delivered + spooled = accepted; none dropped. nginx: access log lines >=
# responses. floor: exit status 0 and its stop line's answered requests >= responses. Every
# server: the probe must answer 200 image/gif; non-2xx/3xx or socket errors in a run: a
# warning. --out DIR (default: a new temp dir) gets runs.tsv (every measured run), events.tsv,
# results.md (with floor: its share of each server's CPU, floor ÷ nginx), results.png (needs
# gnuplot: apt-get install gnuplot-nox), the wrk outputs and the server logs. --set goes to
# pixelring, --header to every request (all servers). --campaigns N cycles N campaign IDs
# (Kafka keys; default 1: the URL above).
# pixelring servers: the same window's CPU split by thread role, from each thread's utime+stime
# (/proc/<pid>/task/<tid>/stat, by name): workers (pixelring-w*), sink (pixelring-sink), other
# (every other thread: main, admin, sync, the Kafka watcher, librdkafka's rdk:*), µs per
# response; on the "round" line, in runs.tsv's columns 20-22 (workers_us_per_req,
# sink_us_per_req, other_us_per_req; "-" for nginx and floor) and in a results.md table of the
# medians over the rounds (each column its own). A thread that exits during the window is lost
# from the split, not from the total, so the parts may then sum to less. runs.tsv's column 26,
# sink_user_us_per_req, is the sink thread's utime alone: its own code without the kernel time
# of its writes, the part that work added to its loop changes.
# --report-only (with the same options and --out DIR of an earlier run): rewrite results.md and
# results.png from DIR's runs.tsv and events.tsv, measuring nothing (a runs.tsv of 19 columns,
# from before the thread split: no thread table).
# runs.tsv's columns 23-25 (handshakes, resumed, resumed_pct: tls_load's; "-" for wrk runs) came
# with the HTTPS scenarios; --report-only reads runs.tsv files with or without them.
# Exit: 0 ok, 1 error, 2 missing tool, 3 events lost (mismatch or dropped; floor: fewer answers
# than responses), 4 HTTPS sessions not resumed as the scenario says (3 wins).
# Loopback only; installs nothing; stops only the processes it started, by PID.
set -euo pipefail

load_name=load
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here=$load_dir
repo=$load_repo

rounds=3
duration=10
warmup=2
servers=pixelring-file,pixelring-kafka,nginx,floor
scenarios=keepalive,close,pipelined
out=""
bin=$repo/build/release/tools/pixelring
devkafka=""
floor=""
nginx_port=18080
nginx_tls_port=18443
partitions=64
brokers=1
broker_cpu=1
topic=pixelring.events
extra_sets=()
quick=0
report_only=0
declare -A given=()
orig_args=("$@")

usage() { awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "${BASH_SOURCE[0]}"; }
die() { load_die "$@"; }

while (($#)); do
    opt=$1
    val=""
    case $opt in
        -h | --help) usage; exit 0 ;;
        --quick) quick=1; shift; continue ;;
        --activated) load_activated=1; shift; continue ;;
        --report-only) report_only=1; shift; continue ;;
        --*=*) val=${opt#*=}; opt=${opt%%=*} ;;
        --*) (($# >= 2)) || die "$opt needs a value"; val=$2; shift ;;
        *) die "unknown argument: $opt (see --help)" ;;
    esac
    shift
    given[$opt]=1
    case $opt in
        --rounds) rounds=$val ;;
        --duration) duration=$val ;;
        --warmup) warmup=$val ;;
        --servers) servers=$val ;;
        --scenarios) scenarios=$val ;;
        --out) out=$val ;;
        --bin) bin=$val ;;
        --devkafka) devkafka=$val ;;
        --floor) floor=$val ;;
        --tls-load) load_tls_load=$val ;;
        --nginx-port) nginx_port=$val ;;
        --nginx-tls-port) nginx_tls_port=$val ;;
        --campaigns) load_campaigns=$val ;;
        --partitions) partitions=$val ;;
        --brokers) brokers=$val ;;
        --broker-cpu) broker_cpu=$val ;;
        --set) [[ $val == *=* ]] || die "--set: KEY=VALUE, got '$val'"; extra_sets+=(--set "$val") ;;
        --header) [[ $val == *:* ]] || die "--header: 'NAME: VALUE', got '$val'"; load_extra_headers+=(-H "$val") ;;
        *) die "unknown option: $opt (see --help)" ;;
    esac
done
if ((quick)); then
    [[ -v given[--rounds] ]] || rounds=1
    [[ -v given[--duration] ]] || duration=2
    [[ -v given[--warmup] ]] || warmup=1
fi

load_whole --rounds "$rounds" 1
load_whole --duration "$duration" 1
load_whole --warmup "$warmup" 0
load_whole --nginx-port "$nginx_port" 1
load_whole --nginx-tls-port "$nginx_tls_port" 1
load_whole --campaigns "$load_campaigns" 1
load_whole --partitions "$partitions" 1
load_whole --brokers "$brokers" 1
load_whole --broker-cpu "$broker_cpu" 0
rounds=$((10#$rounds)) duration=$((10#$duration)) warmup=$((10#$warmup))
nginx_port=$((10#$nginx_port)) nginx_tls_port=$((10#$nginx_tls_port)) load_campaigns=$((10#$load_campaigns))
partitions=$((10#$partitions)) brokers=$((10#$brokers)) broker_cpu=$((10#$broker_cpu))
((rounds <= 20)) || die "--rounds: at most 20"
((duration <= 600 && warmup <= 60)) || die "--duration at most 600 s, --warmup at most 60 s"
((nginx_port <= 65535 && nginx_tls_port <= 65535)) || die "--nginx-port, --nginx-tls-port: at most 65535"
((nginx_port != nginx_tls_port)) || die "--nginx-port and --nginx-tls-port: two ports, not one"
((load_campaigns <= 100000)) || die "--campaigns: at most 100000"
((partitions <= 10000)) || die "--partitions: at most 10000 (pixelring-devkafka's limit)"
((brokers <= 16)) || die "--brokers: at most 16 (pixelring-devkafka's limit)"

IFS=, read -ra server_list <<<"$servers"
IFS=, read -ra scenario_list <<<"$scenarios"
((${#server_list[@]})) || die "--servers: empty"
((${#scenario_list[@]})) || die "--scenarios: empty"
declare -A seen=()
need_px=0 need_kafka=0 need_nginx=0 need_floor=0
for s in "${server_list[@]}"; do
    [[ -v seen[$s] ]] && die "--servers: $s twice"
    seen[$s]=1
    case $s in
        pixelring-file) need_px=1 ;;
        pixelring-kafka) need_px=1 need_kafka=1 ;;
        nginx) need_nginx=1 ;;
        floor) need_floor=1 ;;
        *) die "unknown server: $s (pixelring-file, pixelring-kafka, nginx, floor)" ;;
    esac
done
seen=()
need_tls=0 need_tls_load=0
for s in "${scenario_list[@]}"; do
    [[ -v seen[$s] ]] && die "--scenarios: $s twice"
    seen[$s]=1
    case $s in
        keepalive | close | pipelined) ;;
        https-keepalive) need_tls=1 ;;
        https-resumed | https-full) need_tls=1 need_tls_load=1 ;;
        *) die "unknown scenario: $s (keepalive, close, pipelined, https-keepalive, https-resumed, https-full)" ;;
    esac
done

# --- what this run needs, and only that
if ((report_only)); then
    [[ -n $out && -f $out/runs.tsv && -f $out/events.tsv ]] ||
        die "--report-only needs --out DIR of an earlier run (with runs.tsv and events.tsv)"
    need_px=0 need_nginx=0 need_floor=0 need_tls=0 need_tls_load=0
fi
load_need wrk wrk
for tool in taskset timeout getconf tail awk curl find wc; do load_need "$tool"; done
((need_nginx)) && load_need nginx nginx
if ((need_px)); then
    [[ -x $bin ]] || die "no executable pixelring at $bin (build: cmake --preset release && cmake --build --preset release, or --bin PATH)"
    bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
fi
if ((need_kafka && !report_only)); then
    [[ -n $devkafka ]] || devkafka=$(dirname "$bin")/pixelring-devkafka
    [[ -x $devkafka ]] || die "no executable pixelring-devkafka at $devkafka (--devkafka PATH)"
    devkafka=$(cd "$(dirname "$devkafka")" && pwd)/$(basename "$devkafka")
fi
if ((need_floor)); then # bench/floor_server of --bin's build tree (BUILD/tools/pixelring)
    [[ -n $floor ]] || floor=$(dirname "$(dirname "$bin")")/bench/floor_server
    [[ -x $floor ]] || die "no executable floor_server at $floor (build the floor_server target, or --floor PATH)"
    floor=$(cd "$(dirname "$floor")" && pwd)/$(basename "$floor")
fi
if ((need_tls)); then
    load_need openssl openssl
    ((need_px || need_nginx)) || die "HTTPS scenarios need pixelring or nginx in --servers (floor has no TLS)"
fi
if ((need_tls_load)); then # bench/tls_load of --bin's build tree (BUILD/tools/pixelring)
    [[ -n $load_tls_load ]] || load_tls_load=$(dirname "$(dirname "$bin")")/bench/tls_load
    [[ -x $load_tls_load ]] || die "no executable tls_load at $load_tls_load (build the tls_load target, or --tls-load PATH)"
    load_tls_load=$(cd "$(dirname "$load_tls_load")" && pwd)/$(basename "$load_tls_load")
fi
[[ -f $load_lua ]] || die "missing $load_lua"
taskset -c "0,1,$broker_cpu" true 2>/dev/null ||
    die "CPUs 0, 1 and $broker_cpu are needed (server on 0, wrk on 1, the broker on $broker_cpu); nproc says $(nproc)"
if ((need_nginx)) && load_port_taken "$nginx_port"; then
    die "port 127.0.0.1:$nginx_port (for nginx) is taken: stop what listens there or pass --nginx-port N"
fi
if ((need_nginx && need_tls)) && load_port_taken "$nginx_tls_port"; then
    die "port 127.0.0.1:$nginx_tls_port (for nginx's HTTPS) is taken: stop what listens there or pass --nginx-tls-port N"
fi

load_work=$(mktemp -d "${TMPDIR:-/tmp}/pixelring_load.XXXXXX")
load_install_traps
if [[ -z $out ]]; then
    out=$(mktemp -d "${TMPDIR:-/tmp}/pixelring_load_out.XXXXXX")
else
    mkdir -p "$out"
fi
out=$(cd "$out" && pwd)
mkdir -p "$out/wrk" "$out/logs" "$out/headers"
if ((need_tls)); then # one certificate for every server; its public half kept with the results
    load_make_tls "$load_work/tls"
    cp "$load_tls_dir/cert.pem" "$out/tls-cert.pem"
fi
runs_tsv=$out/runs.tsv
events_tsv=$out/events.tsv
status=0
start_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)

((report_only)) || printf 'round\tserver\tscenario\trequests\treq_per_s\tp99_ms\tserver_ticks\twall_s\tus_per_req\tserver_cpu_pct\tcpu0_other_pct\twrk_cpu_pct\tsocket_errors\tnon2xx_wrk\tserver_accepted\tserver_dropped\tserver_non2xx\tdelivered_per_s\tbroker_us_per_req\tworkers_us_per_req\tsink_us_per_req\tother_us_per_req\thandshakes\tresumed\tresumed_pct\tsink_user_us_per_req\n' >"$runs_tsv"
((report_only)) || printf 'round\tserver\tresponses\taccepted\twritten_or_delivered\tspooled\tdropped\trecords\tcheck\n' >"$events_tsv"

# --- one server instance: start, probe, every scenario, stop, check
base=""
tls_port="" # the instance's HTTPS port (need_tls)
inst_responses=0
tls_args=()
((need_tls)) && mapfile -t tls_args < <(load_tls_pixelring)

start_server() { # server round
    local s=$1 r=$2 d=$load_work/r$2-$1
    mkdir -p "$d"
    case $s in
        pixelring-file)
            mkdir -p "$d/events"
            load_start_pixelring "$bin" file "$d" "$out/logs/r$r-$s.log" \
                --set "sink.file.path=$d/events/events.ndjson" --set sink.file.rotate_bytes=0 \
                "${tls_args[@]}" "${extra_sets[@]}"
            base="http://127.0.0.1:$px_port"
            tls_port=$px_tls_port
            ;;
        pixelring-kafka)
            mkdir -p "$d/spool"
            load_start_devkafka "$devkafka" "$broker_cpu" "$brokers" "$topic" "$partitions" "$d" \
                "$out/logs/r$r-devkafka.log"
            load_start_pixelring "$bin" kafka "$d" "$out/logs/r$r-$s.log" \
                --set "sink.kafka.brokers=$kafka_bootstrap" --set "sink.kafka.topic=$topic" \
                --set "spool.dir=$d/spool" "${tls_args[@]}" "${extra_sets[@]}"
            base="http://127.0.0.1:$px_port"
            tls_port=$px_tls_port
            ;;
        nginx)
            tls_port=""
            ((need_tls)) && tls_port=$nginx_tls_port
            load_start_nginx "$d" "$nginx_port" "$tls_port"
            base="http://127.0.0.1:$nginx_port"
            ;;
        floor)
            load_start_floor "$floor" "$d" "$out/logs/r$r-$s.log"
            base="http://127.0.0.1:$floor_port"
            tls_port=""
            ;;
    esac
    load_probe "$base$load_path_query" "$out/headers/$s.txt"
    inst_responses=1
    if ((need_tls)) && [[ $s != floor ]]; then
        [[ -n $tls_port ]] || die "$s: no HTTPS port (pixelring's start line names none)"
        load_probe_https "$tls_port" "$out/headers/$s-https.txt" "$out/headers/$s-https-tls.txt"
        inst_responses=$((inst_responses + 1))
    fi
    if [[ $s == pixelring-kafka ]]; then # the probe must reach Kafka
        local deadline=$((SECONDS + 15))
        until (($(load_metrics | load_outcome_of delivered) >= 1)); do
            ((SECONDS < deadline)) || die "the probe event was not delivered to Kafka within 15 s"
            sleep 0.1
        done
    fi
    echo "load: round $r: $s pid $server_pid on ${base#http://}${tls_port:+, https 127.0.0.1:$tls_port}, CPU 0${broker_pid:+; pixelring-devkafka pid $broker_pid on CPU $broker_cpu}"
}

# run_client scenario seconds output-file tickets-file: the scenario's client against this
# instance: wrk (plain, or https-keepalive on its HTTPS port), or tls_load (https-resumed with
# the tickets file carried from the warm-up into the measured run, https-full); sets tls_rc
# (0 for wrk; 4: tls_load found the resumption not as the scenario says).
run_client() {
    local sc=$1 secs=$2 file=$3 tickets=$4
    tls_rc=0
    case $sc in
        https-resumed) load_run_tls "$sc" "$secs" "$file" "$tls_port" "$tickets" ;;
        https-full) load_run_tls "$sc" "$secs" "$file" "$tls_port" ;;
        https-keepalive) load_run_wrk "$sc" "$secs" "$file" "https://127.0.0.1:$tls_port" ;;
        *) load_run_wrk "$sc" "$secs" "$file" "$base" ;;
    esac
}
parse_client() { # scenario output-file: w_* (load_parse_wrk, load_parse_tls); "-" where wrk has none
    w_handshakes=- w_resumed=- w_resumed_pct=- w_negotiated=""
    case $1 in
        https-resumed | https-full) load_parse_tls "$2" ;;
        *) load_parse_wrk "$2" ;;
    esac
}

measure() { # server scenario round
    local s=$1 sc=$2 r=$3 file m0="" m1="" k0=0 k1=0 c0 c1 t0 t1 b0 b1 d0=0 d1=0 th0="" th1=""
    local tickets=$load_work/r$r-$s-tickets.pem # https-resumed: this instance's tickets
    rm -f "$tickets"
    if ((warmup > 0)); then # its resumption is not checked: the measured run's is
        run_client "$sc" "$warmup" "$out/wrk/r$r-$s-$sc-warmup.txt" "$tickets"
        parse_client "$sc" "$out/wrk/r$r-$s-$sc-warmup.txt"
        inst_responses=$((inst_responses + w_requests))
    fi
    file=$out/wrk/r$r-$s-$sc.txt
    [[ $s == pixelring-* ]] && m0=$(load_metrics)
    b0=$(load_cpu_busy 0)
    load_children_cpu k0
    t0=$(load_now)
    c0=$(load_cpu_ticks "$server_pid")
    [[ $s == pixelring-* ]] && th0=$(load_thread_ticks "$server_pid")
    [[ -n $broker_pid ]] && d0=$(load_cpu_ticks "$broker_pid")
    run_client "$sc" "$duration" "$file" "$tickets"
    c1=$(load_cpu_ticks "$server_pid")
    [[ $s == pixelring-* ]] && th1=$(load_thread_ticks "$server_pid")
    [[ -n $broker_pid ]] && d1=$(load_cpu_ticks "$broker_pid")
    t1=$(load_now)
    load_children_cpu k1
    b1=$(load_cpu_busy 0)
    [[ $s == pixelring-* ]] && m1=$(load_metrics)
    parse_client "$sc" "$file"
    inst_responses=$((inst_responses + w_requests))

    local dt=$((c1 - c0)) ddt=$((d1 - d0)) wall us cpu other wrkcpu bus dps
    local acc=- drop=- srv_non2xx=- dlv=-
    if [[ -n $m0 && -n $m1 ]]; then
        acc=$(($(load_outcome_of accepted <<<"$m1") - $(load_outcome_of accepted <<<"$m0")))
        drop=$(($(load_dropped_of <<<"$m1") - $(load_dropped_of <<<"$m0")))
        srv_non2xx=$(($(load_non2xx_of <<<"$m1") - $(load_non2xx_of <<<"$m0")))
        dlv=$(($(load_outcome_of delivered <<<"$m1") - $(load_outcome_of delivered <<<"$m0")))
    elif [[ $s == pixelring-* ]]; then
        die "no /metrics from pixelring's admin port $px_admin_port"
    fi
    # other = CPU 0 busy time not spent by the server (other processes, steal)
    read -r wall us cpu other wrkcpu bus dps < <(awk -v a="$t0" -v b="$t1" -v d="$dt" -v bd="$ddt" \
        -v hz="$load_clk_tck" -v n="$w_requests" -v o=$((b1 - b0 - dt)) -v k0="$k0" -v k1="$k1" \
        -v dl="$dlv" 'BEGIN{w = b - a
            printf "%.3f %.3f %.1f %.1f %.1f %.3f %.0f\n", w, d / hz * 1e6 / n, d / hz / w * 100,
                (o > 0 ? o : 0) / hz / w * 100, (k1 - k0) / w * 100, bd / hz * 1e6 / n, dl / w}')
    [[ $s == pixelring-kafka ]] || { bus=-; dps=-; }
    # pixelring: the same window's CPU per request by thread role (threads that exited in the
    # window are lost from the split, not from the total: the parts may sum to less)
    local wus=- sus=- ous=- suus=- split=""
    if [[ $s == pixelring-* ]]; then
        read -r wus sus ous suus < <(load_thread_split "$th0" "$th1" | awk -v hz="$load_clk_tck" -v n="$w_requests" \
            '{printf "%.3f %.3f %.3f %.3f\n", $1 / hz * 1e6 / n, $2 / hz * 1e6 / n, $3 / hz * 1e6 / n, $4 / hz * 1e6 / n}')
        split=$(printf ' (workers %.2f, sink %.2f, other %.2f)' "$wus" "$sus" "$ous")
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$r" "$s" "$sc" "$w_requests" "$w_rps" "$w_p99" "$dt" "$wall" "$us" "$cpu" "$other" \
        "$wrkcpu" "${w_sock:-none}" "$w_non2xx" "$acc" "$drop" "$srv_non2xx" "$dps" "$bus" \
        "$wus" "$sus" "$ous" "$w_handshakes" "$w_resumed" "$w_resumed_pct" "$suus" >>"$runs_tsv"
    local client=wrk tls_note=""
    if [[ $w_handshakes != - ]]; then
        client=tls_load
        tls_note="  $w_handshakes handshakes, $w_resumed resumed ($w_resumed_pct% of those that offered a ticket), $w_negotiated"
    fi
    printf 'round %d %-15s %-9s %9.0f req/s  p99 %7s ms  %7.3f us/req server CPU (%5.1f%%)%s  CPU 0 other %5s%%  %s %5s%% CPU%s%s\n' \
        "$r" "$s" "$sc" "$w_rps" "$w_p99" "$us" "$cpu" "$split" "$other" "$client" "$wrkcpu" \
        "$([[ $s == pixelring-kafka ]] && echo "  broker $bus us/req, $dps delivered/s")" "$tls_note"
    # A server that does not resume must not look fast: its https-resumed figures would be
    # full handshakes'.
    if [[ $sc == https-resumed ]] && { ((tls_rc == 4)) || awk -v p="$w_resumed_pct" 'BEGIN{exit !(p < 95)}'; }; then
        load_warn_box "SESSIONS NOT RESUMED: $s $sc round $r: $w_resumed of $w_handshakes handshakes resumed" \
            "($w_resumed_pct % of those that offered a ticket; at least 95 % expected): this run measured" \
            "full handshakes, not resumptions; exit status 4"
        ((status != 0)) || status=4
    fi
    if [[ $sc == https-full ]] && ((tls_rc == 4 || w_resumed > 0)); then
        load_warn_box "$s $sc round $r: $w_resumed of $w_handshakes handshakes resumed, none expected; exit status 4"
        ((status != 0)) || status=4
    fi
    # The server's count checks wrk's: wrk counts responses (also when pipelining); the server
    # may have taken up to connections x depth more (in flight when wrk stopped).
    if [[ $acc != - ]] && ((acc + drop < w_requests || acc + drop > w_requests + load_connections * load_pipeline_depth)); then
        echo "  !! $s $sc round $r: server accepted $acc and dropped $drop events but wrk counted $w_requests responses"
    fi
    if [[ $drop != - ]] && ((drop > 0)); then
        echo "  !! $s $sc round $r: the server DROPPED $drop events (answered, not recorded; pixelring_events_dropped_total)"
    fi
    if awk -v o="$other" 'BEGIN{exit !(o > 10)}'; then
        echo "  !! CPU 0 was ${other}% busy with other work (not the server): req/s and latency are not the server's own"
    fi
    if [[ -n $w_sock || $w_non2xx != 0 || ($srv_non2xx != - && $srv_non2xx != 0) ]]; then
        echo "  !! $s $sc round $r: socket errors: ${w_sock:-none}; wrk non-2xx/3xx: $w_non2xx; server non-2xx: $srv_non2xx"
    fi
}

stop_server() { # name signal: stops server_pid with the signal and waits for it (at most
    # load_stop_timeout_s, else die); its exit status in stop_rc
    stop_rc=0
    kill "-$2" "$server_pid"
    timeout "$load_stop_timeout_s" tail --pid="$server_pid" -f /dev/null ||
        die "$1 did not stop within ${load_stop_timeout_s}s of SIG$2"
    wait "$server_pid" || stop_rc=$?
    server_pid=""
}

stop_and_check() { # server round: stops the instance and checks its events against its counts
    local s=$1 r=$2 d=$load_work/r$2-$1 rc=0 log=$out/logs/r$2-$1.log line
    local accepted=- written=- spooled=- dropped=- records=- check=ok
    if [[ $s == nginx ]]; then
        stop_server nginx QUIT # graceful: flushes the buffered access log
        rc=$stop_rc
        records=$(wc -l <"$d/logs/access.log")
        cp "$d/logs/error.log" "$out/logs/r$r-nginx-error.log"
        if ((rc != 0 || records < inst_responses)); then
            check=MISMATCH
            load_warn_box "nginx round $r: access log lines $records < responses $inst_responses (exit status $rc)" \
                "kept: $d/logs"
            status=3
            load_keep_work=1
        fi
    elif [[ $s == floor ]]; then # no events: its answers against wrk's responses
        stop_server floor_server TERM
        rc=$stop_rc
        line=$(grep -m1 'floor_server: stopped:' "$log" || true)
        [[ $line =~ stopped:\ ([0-9]+)\ requests\ answered, ]] ||
            { cat "$log" >&2; die "no 'floor_server: stopped:' line (exit status $rc)"; }
        accepted=${BASH_REMATCH[1]}
        if ((rc != 0 || accepted < inst_responses)); then
            check=MISMATCH
            load_warn_box "floor round $r: answered $accepted < responses $inst_responses (exit status $rc)" "$line"
            status=3
        fi
        echo "load: round $r: $line"
    else
        stop_server pixelring TERM
        rc=$stop_rc
        line=$(grep -m1 'pixelring: stopped:' "$log" || true)
        [[ $line =~ stopped:\ ([0-9]+)\ events\ accepted,\ ([0-9]+)\ (delivered|written), ]] ||
            { cat "$log" >&2; die "no 'pixelring: stopped:' line from $s (exit status $rc)"; }
        accepted=${BASH_REMATCH[1]}
        written=${BASH_REMATCH[2]}
        spooled=0
        [[ $line =~ \ ([0-9]+)\ spooled ]] && spooled=${BASH_REMATCH[1]}
        [[ $line =~ \ ([0-9]+)\ dropped ]] && dropped=${BASH_REMATCH[1]}
        if [[ $s == pixelring-file ]]; then
            records=$(find "$d/events" -type f -exec cat {} + | wc -l)
            if [[ $records != "$accepted" || $written != "$accepted" || $rc != 0 ]]; then
                check=MISMATCH
                load_warn_box "EVENTS LOST OR UNACCOUNTED: $s round $r" \
                    "event file lines $records, accepted $accepted, written $written, exit status $rc" \
                    "kept: $d/events"
            fi
        else
            load_stop_pid "$broker_pid" pixelring-devkafka
            broker_pid=""
            records=$written # delivery reports, not the topic: the mock keeps ~5 MiB per partition
            if ((written + spooled != accepted || rc != 0)); then
                check=MISMATCH
                load_warn_box "EVENTS NOT DELIVERED: $s round $r" \
                    "accepted $accepted, delivered $written, spooled $spooled, dropped $dropped, exit status $rc" \
                    "kept: $d/spool"
            fi
        fi
        if ((dropped != 0)); then
            [[ $check == ok ]] && check=DROPPED
            load_warn_box "THE SERVER DROPPED $dropped EVENTS UNDER LOAD ($s round $r)" "$line"
        fi
        [[ $check == ok ]] || status=3
        [[ $check == MISMATCH ]] && load_keep_work=1
        echo "load: round $r: $line"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$s" "$inst_responses" "$accepted" "$written" \
        "$spooled" "$dropped" "$records" "$check" >>"$events_tsv"
    # Free the disk (a pipelined file-sink round writes gigabytes) unless kept for inspection.
    [[ $check == MISMATCH ]] || rm -rf "$d"
}

# --- the rounds
if ((report_only)); then
    echo "load: --report-only: results from $runs_tsv and $events_tsv, nothing measured"
    awk -F'\t' 'NR > 1 && $9 != "ok" {bad = 1} END {exit !bad}' "$events_tsv" && status=3
    # sessions not resumed as the scenario says (runs.tsv with the HTTPS columns)
    ((status != 0)) || ! awk -F'\t' 'NR > 1 && NF >= 25 && (($3 == "https-resumed" && $25 + 0 < 95) ||
        ($3 == "https-full" && $24 != "-" && $24 > 0)) {bad = 1} END {exit !bad}' "$runs_tsv" || status=4
    rounds=$(awk -F'\t' 'NR > 1 && $1 > n {n = $1} END {print n + 0}' "$runs_tsv")
fi
((report_only)) || echo "load: $rounds round(s) of ${server_list[*]} x ${scenario_list[*]}: warm-up ${warmup}s, measured ${duration}s, wrk -t1 -c$load_connections on CPU 1, servers on CPU 0; out $out"
read -r load1 _ </proc/loadavg
if ((!report_only)) && awk -v l="$load1" 'BEGIN{exit !(l > 1.5)}'; then
    echo "load: WARNING: load average $load1 on $(nproc) CPUs: other work competes with the server and wrk"
fi
n_servers=${#server_list[@]}
for ((r = 1; !report_only && r <= rounds; r++)); do
    for ((i = 0; i < n_servers; i++)); do
        s=${server_list[$(((i + r - 1) % n_servers))]}
        start_server "$s" "$r"
        for sc in "${scenario_list[@]}"; do
            if [[ $s == floor && $sc == https-* ]]; then
                echo "load: round $r: floor has no TLS: $sc skipped"
                continue
            fi
            measure "$s" "$sc" "$r"
        done
        stop_and_check "$s" "$r"
    done
done

((report_only)) || cut -d' ' -f1-3 /proc/loadavg >"$out/loadavg"
[[ -f $out/loadavg ]] || echo "n/a n/a n/a" >"$out/loadavg"

# --- the report
label_of() {
    case $1 in
        keepalive) echo "keep-alive" ;;
        close) echo "Connection: close" ;;
        pipelined) echo "$load_pipeline_depth pipelined per write" ;;
        https-keepalive) echo "HTTPS keep-alive" ;;
        https-resumed) echo "HTTPS, new connection per hit, resumed" ;;
        https-full) echo "HTTPS, new connection per hit, full handshake" ;;
    esac
}
has_tls=0 # HTTPS runs in runs.tsv (also for --report-only)
grep -q $'	https-' "$runs_tsv" && has_tls=1
# summary: one line per (server, scenario): server scenario runs rps_med rps_min rps_max p99_med
# us_med us_min us_max other_med wrk_med ratio ratio_min ratio_max bus_med dps_med us_med_exact
# workers_med sink_med other_med (pixelring's split by thread role; "-": none in runs.tsv, as for
# nginx, floor and a runs.tsv of 19 columns written before the split existed)
summary=$out/summary.tsv
awk -F'\t' -v servers="$servers" -v scenarios="$scenarios" '
    function med(a, n,   i, j, t) {
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function lo(a, n,   i, m) { m = a[1]; for (i = 2; i <= n; i++) if (a[i] < m) m = a[i]; return m }
    function hi(a, n,   i, m) { m = a[1]; for (i = 2; i <= n; i++) if (a[i] > m) m = a[i]; return m }
    NR > 1 { k = $2 SUBSEP $3; n[k]++; rps[k, n[k]] = $5; us[k, n[k]] = $9; oth[k, n[k]] = $11; wc[k, n[k]] = $12
             if ($6 != "n/a") { np[k]++; p99[k, np[k]] = $6 }
             if ($19 != "-") { bus[k, n[k]] = $19; dps[k, n[k]] = $18 }
             if (NF >= 22 && $20 != "-") { nt[k]++; tw[k, nt[k]] = $20; tk[k, nt[k]] = $21; to[k, nt[k]] = $22 }
             round_us[$2, $3, $1] = $9; rounds[$1] = 1 }
    END {
        ns = split(servers, S, ","); nc = split(scenarios, C, ",")
        for (i = 1; i <= ns; i++) for (j = 1; j <= nc; j++) {
            s = S[i]; c = C[j]; k = s SUBSEP c; m = n[k]; if (!m) continue
            delete a; for (x = 1; x <= m; x++) a[x] = rps[k, x]; r1 = med(a, m); r2 = lo(a, m); r3 = hi(a, m)
            delete a; for (x = 1; x <= m; x++) a[x] = us[k, x]; u1 = med(a, m); u2 = lo(a, m); u3 = hi(a, m)
            delete a; for (x = 1; x <= m; x++) a[x] = oth[k, x]; o1 = med(a, m)
            delete a; for (x = 1; x <= m; x++) a[x] = wc[k, x]; w1 = med(a, m)
            p = "n/a"; if (np[k]) { delete a; for (x = 1; x <= np[k]; x++) a[x] = p99[k, x]; p = sprintf("%.2f", med(a, np[k])) }
            b = "-"; d = "-"; if ((k, 1) in bus) { delete a; for (x = 1; x <= m; x++) a[x] = bus[k, x]; b = sprintf("%.2f", med(a, m))
                delete a; for (x = 1; x <= m; x++) a[x] = dps[k, x]; d = sprintf("%.0f", med(a, m)) }
            # ratio of the medians; its range: the per-round ratios (the servers ran in the same round)
            q = "-"; q2 = "-"; q3 = "-"; kn = "nginx" SUBSEP c
            if (s != "nginx" && n[kn]) {
                delete a; for (x = 1; x <= n[kn]; x++) a[x] = us[kn, x]; q = sprintf("%.2f", u1 / med(a, n[kn]))
                delete a; y = 0; for (rr in rounds) if (((s, c, rr) in round_us) && (("nginx", c, rr) in round_us) && round_us["nginx", c, rr] > 0) a[++y] = round_us[s, c, rr] / round_us["nginx", c, rr]
                if (y) { q2 = sprintf("%.2f", lo(a, y)); q3 = sprintf("%.2f", hi(a, y)) }
            }
            # by thread role: each column its own median (they need not add up to the total)
            e1 = "-"; e2 = "-"; e3 = "-"; t = nt[k]
            if (t) { delete a; for (x = 1; x <= t; x++) a[x] = tw[k, x]; e1 = sprintf("%.2f", med(a, t))
                delete a; for (x = 1; x <= t; x++) a[x] = tk[k, x]; e2 = sprintf("%.2f", med(a, t))
                delete a; for (x = 1; x <= t; x++) a[x] = to[k, x]; e3 = sprintf("%.2f", med(a, t)) }
            printf "%s\t%s\t%d\t%.0f\t%.0f\t%.0f\t%s\t%.2f\t%.2f\t%.2f\t%.1f\t%.1f\t%s\t%s\t%s\t%s\t%s\t%.6f\t%s\t%s\t%s\n",
                s, c, m, r1, r2, r3, p, u1, u2, u3, o1, w1, q, q2, q3, b, d, u1, e1, e2, e3
        }
    }' "$runs_tsv" >"$summary"

commas() { sed -E ':a;s/^([0-9]+)([0-9]{3})/\1,\2/;ta' <<<"$1"; }
# header.md: what ran, written once by the measuring run (--report-only reuses it)
if ((!report_only)) || [[ ! -f $out/header.md ]]; then
    if ((report_only)); then # an older run without header.md: what its files tell
        start_date=$(date -u -r "$runs_tsv" +%Y-%m-%dT%H:%M:%SZ)" (end)"
        px_version=$(cat "$out"/logs/*.log 2>/dev/null | awk '/^pixelring .* listening on /{print $2; exit}')
        grep -q $'\tnginx\t' "$runs_tsv" && need_nginx=1
    fi
    version=${px_version:+pixelring $px_version}
    # The binary's own line names its malloc: "pixelring 0.1.0 (malloc: mimalloc 2.0.9)".
    ((!report_only)) && [[ -x $bin ]] && version=$("$bin" --version 2>/dev/null | head -1)
    nginx_version=""
    ((need_nginx)) && nginx_version=$(nginx -v 2>&1 | sed 's/^nginx version: //')
    cmd="bench/load/run.sh"
    for a in "${orig_args[@]}"; do
        [[ $a == --report-only ]] && continue
        if [[ $a =~ ^[A-Za-z0-9_./,:=+@%-]+$ ]]; then cmd+=" $a"; else cmd+=" '${a//\'/\'\\\'\'}'"; fi
    done
    {
        echo "# pixelring vs nginx: wrk load, one machine"
        echo
        echo "- date: $start_date; ${version:-pixelring} ($(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown))${nginx_version:+; $nginx_version}; $(wrk --version 2>&1 | head -1 | awk '{print $1, $2}')"
        echo "- host: $(nproc) CPUs ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)), kernel $(uname -r); each server alone on CPU 0, wrk -t1 -c$load_connections on CPU 1$( ((need_kafka)) && echo ", pixelring-devkafka ($brokers broker, $partitions partitions) on CPU $broker_cpu")"
        echo "- command: \`$cmd\`"
        echo "- each run: warm-up ${warmup}s, then \`wrk -t1 -c$load_connections -d${duration}s --latency\`; $rounds round(s), servers interleaved; $( ((load_campaigns > 1)) && echo "$load_campaigns campaign IDs" || echo "one URL")${extra_sets[*]:+; pixelring ${extra_sets[*]}}${load_extra_headers[*]:+; headers ${load_extra_headers[*]}}"
        if ((has_tls)); then
            echo "- HTTPS: one self-signed ECDSA P-256 certificate (tls-cert.pem), TLS 1.3 only, $load_tls_suite and $load_tls_group (the only suite and group the clients offer; nginx: ssl_protocols TLSv1.3, ssl_conf_command Ciphersuites $load_tls_suite, ssl_ecdh_curve $load_tls_group, ssl_session_tickets on, ssl_session_cache shared; pixelring: tls.min_version = \"1.3\"); https-keepalive: wrk (OPENSSL_CONF: TLS 1.3, that suite and group); https-resumed, https-full: \`tls_load --connections $load_connections\` on CPU 1, one GET per new connection (Connection: close), ${duration}s after a ${warmup}s warm-up whose tickets the measured https-resumed run starts with$( ((need_tls)) && openssl version >/dev/null 2>&1 && echo "; $(openssl version | awk '{print $1, $2}')")"
        fi
        echo
    } >"$out/header.md"
fi
{
    cat "$out/header.md"
    echo "| server | scenario | requests/s median (min–max) | p99 ms | server CPU µs/request median (min–max) | CPU ÷ nginx's | CPU 0 other % | client CPU % |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|"
    while IFS=$'\t' read -r s c _ r1 r2 r3 p u1 u2 u3 o1 w1 q q2 q3 _ _; do
        ratio="—"
        [[ $q != - ]] && ratio="$q ($q2–$q3)"
        [[ $s == nginx ]] && ratio="1"
        [[ $s != nginx && $q == - ]] && ratio="n/a"
        [[ $c == pipelined ]] && p="n/a" # wrk times a batch, not a request (wg/wrk#236)
        printf '| %s | %s | %s (%s–%s) | %s | %s (%s–%s) | %s | %s | %s |\n' "$s" "$(label_of "$c")" \
            "$(commas "$r1")" "$(commas "$r2")" "$(commas "$r3")" "$p" "$u1" "$u2" "$u3" \
            "$ratio" "$o1" "$w1"
    done <"$summary"
    if ((need_kafka)); then
        echo
        echo "pixelring-kafka, the broker (pixelring-devkafka, not counted above) and Kafka's acknowledgements:"
        echo
        echo "| scenario | broker CPU µs/request median | delivered/s median |"
        echo "|---|---:|---:|"
        awk -F'\t' '$1 == "pixelring-kafka" {print $2 "\t" $16 "\t" $17}' "$summary" |
            while IFS=$'\t' read -r c b d; do
                printf '| %s | %s | %s |\n' "$(label_of "$c")" "$b" "$(commas "$d")"
            done
    fi
    echo
    if ((has_tls)); then
        echo
        echo "HTTPS: handshakes and requests per server CPU-second (1 ÷ CPU per request; for a new connection per hit, handshakes per second per server core at full load):"
        echo
        echo "| server | scenario | requests per server CPU-second, median (min–max) | handshakes (all rounds) | resumed (lowest round) | client CPU % median |"
        echo "|---|---|---:|---:|---:|---:|"
        awk -F'\t' -v servers="$servers" -v scenarios="$scenarios" '
            function med(a, n,   i, j, t) {
                for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
                return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
            }
            NR > 1 && $3 ~ /^https-/ && $9 > 0 {
                k = $2 SUBSEP $3; n[k]++; v[k, n[k]] = 1e6 / $9; wc[k, n[k]] = $12
                if (!((k) in lo) || 1e6 / $9 < lo[k]) lo[k] = 1e6 / $9
                if (!((k) in hi) || 1e6 / $9 > hi[k]) hi[k] = 1e6 / $9
                if (NF >= 25 && $23 != "-") { hs[k] += $23; if (!((k) in rp) || $25 + 0 < rp[k]) rp[k] = $25 + 0 }
            }
            END {
                ns = split(servers, S, ","); nc = split(scenarios, C, ",")
                for (i = 1; i <= ns; i++) for (j = 1; j <= nc; j++) {
                    k = S[i] SUBSEP C[j]; m = n[k]; if (!m) continue
                    delete a; for (x = 1; x <= m; x++) a[x] = v[k, x]; r = med(a, m)
                    delete a; for (x = 1; x <= m; x++) a[x] = wc[k, x]; w = med(a, m)
                    h = ((k) in hs) ? hs[k] : (C[j] == "https-keepalive" ? "wrk: one per connection" : "-")
                    p = (C[j] == "https-resumed" && ((k) in rp)) ? sprintf("%.1f %%%s", rp[k], rp[k] < 95 ? " NOT RESUMED" : "") : (C[j] == "https-full" && ((k) in rp)) ? "none offered" : "—"
                    printf "%s\t%s\t%.0f\t%.0f\t%.0f\t%s\t%s\t%.1f\n", S[i], C[j], r, lo[k], hi[k], h, p, w
                }
            }' "$runs_tsv" | while IFS=$'\t' read -r s c r lo hi h p w; do
            printf '| %s | %s | %s (%s–%s) | %s | %s | %s |\n' "$s" "$(label_of "$c")" "$(commas "$r")" \
                "$(commas "$lo")" "$(commas "$hi")" "$(commas "$h")" "$p" "$w"
        done
        echo
        echo "resumed: of the handshakes that offered a ticket (a connection slot's first handshake has none to offer unless the warm-up left one), the lowest round; below 95 % the run measured full handshakes and the script exits 4. tls_load does not verify the certificate chain (nor does wrk); every full handshake still verifies the server's CertificateVerify signature, so the client's CPU per full handshake is above the server's and, on one core, it may set the rate (client CPU % near 100): the server's CPU per request stays the figure of merit."
    fi
    echo
    echo "Server CPU = utime+stime of all the server's threads (/proc/<pid>/stat) over the measured window ÷ the client's responses: the figure of merit, since the client itself (wrk, or tls_load for the HTTPS scenarios with a new connection per hit) is near its limit on one core (client CPU % near 100: the client, not the server, sets requests/s). CPU ÷ nginx's = the ratio of the medians for the same scenario (in parentheses: the range of the per-round ratios). CPU 0 other % = CPU 0 busy time (/proc/stat) not spent by the server: above a few %, another process competed with it. p99 is the client's, median over the rounds (tls_load: from the connect to the whole answer, handshake included); pipelined p99 is n/a: wrk times the write of the whole batch, not a request (wg/wrk#236; runs.tsv keeps what wrk printed)."
    if grep -q '^floor'$'\t' "$summary"; then
        echo
        echo "The io_uring floor: floor is bench/floor_server, pixelring's io_uring set-up (multishot accept, multishot recv into a provided buffer ring, SINGLE_ISSUER|DEFER_TASKRUN, pixelring's wait policy) answering every request head with pixelring's own pixel answer, one send per received chunk, and doing nothing else: no parsing, no events, no log. Its CPU per request is the cost of answering with no work, the kernel's share (loopback TCP, io_uring, the scheduler) that any io_uring server answering this way pays; floor ÷ S is the part of server S's CPU per request that this floor accounts for, and S − floor is what S spends above it. A CPU ratio to nginx below floor ÷ nginx is out of reach for a server built this way."
        echo
        awk -F'\t' -v servers="$servers" -v scenarios="$scenarios" '
            { us[$1, $2] = $8; ux[$1, $2] = $18 } # shown rounded, ratios from the exact medians
            END {
                ns = split(servers, S, ","); nc = split(scenarios, C, ","); m = 0
                for (i = 1; i <= ns; i++) if (S[i] == "nginx") O[++m] = S[i]
                for (i = 1; i <= ns; i++) if (S[i] != "nginx" && S[i] != "floor") O[++m] = S[i]
                h = "| scenario | floor µs/request"; l = "|---|---:"
                for (i = 1; i <= m; i++) {
                    h = h " | " O[i] " µs/request | floor ÷ " O[i] (O[i] == "nginx" ? "" : " | " O[i] " − floor")
                    l = l "|---:|---:" (O[i] == "nginx" ? "" : "|---:")
                }
                print h " |"; print l "|"
                for (j = 1; j <= nc; j++) {
                    c = C[j]; if (!(("floor", c) in us)) continue
                    f = us["floor", c]; fx = ux["floor", c]; row = "| " c " | " f
                    for (i = 1; i <= m; i++) {
                        if (!((O[i], c) in us)) { row = row " | - | -" (O[i] == "nginx" ? "" : " | -"); continue }
                        u = us[O[i], c]; x = ux[O[i], c]
                        row = row " | " u " | " (x > 0 ? sprintf("%.2f", fx / x) : "-")
                        if (O[i] != "nginx") row = row " | " sprintf("%.2f", x - fx)
                    }
                    print row " |"
                }
            }' "$summary" | sed -e 's/^| keepalive |/| keep-alive |/' -e 's/^| close |/| Connection: close |/' \
            -e "s/^| pipelined |/| $load_pipeline_depth pipelined per write |/"
    fi
    if awk -F'\t' '$19 != "-" && $19 != "" {f = 1} END {exit !f}' "$summary"; then
        echo
        echo "pixelring's CPU per request by thread (µs, median over rounds):"
        echo
        echo "| server | scenario | total | workers | sink | other |"
        echo "|---|---|---:|---:|---:|---:|"
        while IFS=$'\t' read -r s c _ _ _ _ _ u1 _ _ _ _ _ _ _ _ _ _ e1 e2 e3; do
            [[ $e1 != - && -n $e1 ]] || continue
            printf '| %s | %s | %s | %s | %s | %s |\n' "$s" "$(label_of "$c")" "$u1" "$e1" "$e2" "$e3"
        done <"$summary"
        echo
        echo "Each column is its own median over the rounds, so workers + sink + other need not equal the total. Per thread: utime+stime from /proc/<pid>/task/<tid>/stat over the same window as the total, ÷ the client's responses; workers = the io_uring workers (pixelring-w*), sink = pixelring-sink (drains the workers' rings into the file or Kafka sink), other = every other thread (main, admin, fsync, the Kafka watcher, librdkafka's rdk:* threads). A thread that exits during the window is lost from the split (not from the total); otherwise the parts of one run add up to its total within a tick (CLK_TCK) or so."
    fi
    echo
    echo "Events (per server, summed over rounds; pixelring: its stop line; nginx: access log lines against the clients' responses, warm-ups and probes included; floor has no events: the requests its stop line counts as answered against wrk's responses):"
    echo
    awk -F'\t' 'NR > 1 {k = $2; if (!(k in seen)) {seen[k] = 1; order[++n] = k}
            resp[k] += $3; acc[k] += $4; wr[k] += $5; sp[k] += $6; dr[k] += $7; rec[k] += $8
            if ($9 != "ok") bad[k] = bad[k] " r" $1 ":" $9 }
        END { for (i = 1; i <= n; i++) { k = order[i]
            if (k == "nginx") printf "- nginx: %d responses, %d access log lines", resp[k], rec[k]
            else if (k == "floor") printf "- floor: %d responses, %d requests answered (no events)", resp[k], acc[k]
            else if (k == "pixelring-file") printf "- pixelring-file: %d accepted, %d written, %d dropped, %d event file lines", acc[k], wr[k], dr[k], rec[k]
            else printf "- pixelring-kafka: %d accepted, %d delivered, %d spooled, %d dropped", acc[k], wr[k], sp[k], dr[k]
            printf "%s\n", (k in bad) ? ": CHECK FAILED (" substr(bad[k], 2) ")" : ": ok" } }' "$events_tsv"
    echo
    echo "Load average at the end: $(cut -d' ' -f1-3 "$out/loadavg")."
} >"$out/results.md"

# --- the plot: grouped bars of CPU µs/request, scenario by server, min–max error bars
plot_dat=$out/plot.dat
{
    printf '"scenario"'
    for s in "${server_list[@]}"; do
        label=$s
        [[ $s == floor ]] && label="floor (io_uring, no work)"
        printf '\t"%s"\t"min"\t"max"' "$label"
    done
    echo
    for c in "${scenario_list[@]}"; do
        printf '"%s"' "$(label_of "$c")"
        for s in "${server_list[@]}"; do
            awk -F'\t' -v s="$s" -v c="$c" '$1 == s && $2 == c {printf "\t%s\t%s\t%s", $8, $9, $10; f = 1}
                END {if (!f) printf "\tNaN\tNaN\tNaN"}' "$summary"
        done
        echo
    done
} >"$plot_dat"
colors=""
for s in "${server_list[@]}"; do # one colour per server, whatever the order
    case $s in
        pixelring-file) colors+=" #1f77b4" ;;
        pixelring-kafka) colors+=" #ff7f0e" ;;
        nginx) colors+=" #2ca02c" ;;
        floor) colors+=" #7f7f7f" ;;
    esac
done
if command -v gnuplot >/dev/null; then
    gnuplot -e "datafile='$plot_dat'; outfile='$out/results.png'; nservers=$n_servers; colors='${colors# }'" \
        -e "subtitle='wrk -t1 -c$load_connections, ${duration} s runs, $rounds round(s); bars: median, whiskers: min–max'" \
        "$here/plot.gp" || echo "load: gnuplot failed; no results.png" >&2
else
    echo "load: gnuplot is not installed (apt-get install gnuplot-nox): no results.png; data in $plot_dat" >&2
fi

echo
cat "$out/results.md"
echo
if ((status == 3)); then
    load_warn_box "EVENTS LOST, DROPPED OR UNACCOUNTED: see events.tsv; exit status 3"
elif ((status == 4)); then
    load_warn_box "HTTPS SESSIONS NOT RESUMED AS THE SCENARIO SAYS: see runs.tsv (resumed_pct); exit status 4"
else
    echo "load: OK: every server's events are accounted for"
fi
png=""
[[ -f $out/results.png ]] && png=", $out/results.png"
echo "load: results in $out/results.md$png (per run: $runs_tsv, events: $events_tsv, wrk output: $out/wrk/, logs: $out/logs/)"
exit "$status"
