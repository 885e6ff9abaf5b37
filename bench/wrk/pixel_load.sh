#!/usr/bin/env bash
# pixel_load.sh: load-test pixelring with wrk and measure the server's CPU cost per request.
#
#   bench/wrk/pixel_load.sh [--duration S] [--warmup S] [--rounds N]
#                           [--scenarios keepalive,pipelined,close] [--bin PATH] [--out DIR]
#                           [--set KEY=VALUE]... [--header 'NAME: VALUE']...
#
# One pixelring (file sink, 1 worker, pinned to CPU 0, ports 0) serves every run; wrk runs
# pinned to CPU 1. Each scenario gets a warm-up, then a measured wrk run; the server's CPU
# (utime+stime of all its threads, /proc/<pid>/stat) is read right before and after it.
# Rounds are interleaved (round 1: every scenario, round 2: ...). At the end the server is
# stopped with SIGTERM and the event file must hold exactly as many lines as it accepted.
# Exit: 0 ok, 1 error, 2 missing tool, 3 events lost (file lines != accepted, or events dropped).
# --set is passed to pixelring (e.g. --set tracking.enrich=false); --header is added to every
# wrk request (e.g. --header 'X-Forwarded-For: 89.160.20.112' with server.trusted_proxies).
# Installs nothing; kills only the processes it started, by PID.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

duration=10
warmup=2
rounds=3
scenarios=keepalive,pipelined,close
bin=$repo/build/release/tools/pixelring
out=""

path_query='/track/pageview.gif?campaignID=example.com&scroll-depth=70%25&dark-mode=true'
referer='https://example.com/blog/post?utm_source=news'
user_agent='Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
pipeline_depth=16
start_timeout_s=15
stop_timeout_s=120

extra_sets=()
extra_headers=()

usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "pixel_load: $*" >&2; exit 1; }

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
        --bin) bin=$val ;;
        --out) out=$val ;;
        --set) [[ $val == *=* ]] || die "--set: KEY=VALUE, got '$val'"; extra_sets+=(--set "$val") ;;
        --header) [[ $val == *:* ]] || die "--header: 'NAME: VALUE', got '$val'"; extra_headers+=(-H "$val") ;;
        *) die "unknown option: $opt (see --help)" ;;
    esac
done

if ! [[ $duration =~ ^[0-9]+$ ]] || ((10#$duration < 1)); then die "--duration: whole seconds >= 1"; fi
[[ $warmup =~ ^[0-9]+$ ]] || die "--warmup: whole seconds >= 0"
if ! [[ $rounds =~ ^[0-9]+$ ]] || ((10#$rounds < 1)); then die "--rounds: a number >= 1"; fi
duration=$((10#$duration)) warmup=$((10#$warmup)) rounds=$((10#$rounds))
IFS=, read -ra scenario_list <<<"$scenarios"
((${#scenario_list[@]})) || die "--scenarios: empty"
for s in "${scenario_list[@]}"; do
    case $s in keepalive|pipelined|close) ;; *) die "unknown scenario: $s (keepalive, pipelined, close)" ;; esac
done

if ! command -v wrk >/dev/null; then
    echo "pixel_load: wrk is not installed: apt-get install wrk" >&2
    exit 2
fi
for tool in taskset timeout getconf tail awk; do
    command -v "$tool" >/dev/null || { echo "pixel_load: $tool is missing" >&2; exit 2; }
done
have_curl=0
command -v curl >/dev/null && have_curl=1
[[ -x $bin ]] || die "no executable pixelring at $bin (build: cmake --preset release && cmake --build --preset release, or --bin PATH)"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
taskset -c 0,1 true 2>/dev/null || die "CPUs 0 and 1 are needed (server on 0, wrk on 1); nproc says $(nproc)"
[[ -f $here/pipeline.lua ]] || die "missing $here/pipeline.lua"

clk_tck=$(getconf CLK_TCK)
work=$(mktemp -d "${TMPDIR:-/tmp}/pixel_load.XXXXXX")
if [[ -z $out ]]; then
    out=$(mktemp -d "${TMPDIR:-/tmp}/pixel_load_out.XXXXXX")
else
    mkdir -p "$out"
fi
out=$(cd "$out" && pwd)
mkdir -p "$work/events" "$out/wrk"
server_log=$out/server.log
runs_tsv=$out/runs.tsv
keep_work=0
server_pid=""
wrk_pid=""

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $wrk_pid ]] && kill -0 "$wrk_pid" 2>/dev/null; then
        kill -TERM "$wrk_pid" 2>/dev/null || true
        wait "$wrk_pid" 2>/dev/null || true
    fi
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        echo "pixel_load: stopping pixelring (pid $server_pid)" >&2
        kill -TERM "$server_pid" 2>/dev/null || true
        if ! timeout 30 tail --pid="$server_pid" -f /dev/null; then
            kill -KILL "$server_pid" 2>/dev/null || true
        fi
        wait "$server_pid" 2>/dev/null || true
    fi
    if ((keep_work)); then
        echo "pixel_load: kept the event files in $work/events" >&2
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

: >"$server_log"
(
    cd "$work"
    exec env "${env_clear[@]}" taskset -c 0 "$bin" \
        --set server.listen=127.0.0.1:0 --set admin.listen=127.0.0.1:0 \
        --set server.workers=1 --set sink.type=file \
        --set "sink.file.path=$work/events/events.ndjson" --set sink.file.rotate_bytes=0 \
        "${extra_sets[@]}"
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
        [[ ${BASH_REMATCH[3]} == 1 && ${BASH_REMATCH[4]} == file ]] || die "unexpected start line: $line"
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
url="http://127.0.0.1:$port$path_query"
version=$(awk '/ listening on /{print $2; exit}' "$server_log")

metrics() { # the admin /metrics text, empty without curl
    ((have_curl)) || return 0
    curl -s --max-time 5 "http://127.0.0.1:$admin_port/metrics" || true
}
accepted_of() { awk '/^pixelring_events_total\{outcome="accepted"\}/{print $2; exit}'; }
dropped_of() { awk '/^pixelring_events_dropped_total\{/{n += $2} END{print n + 0}'; }
non2xx_of() { # sum of http_requests_total with a status other than 2xx
    awk '/^pixelring_http_requests_total\{/ && !/status="2[0-9][0-9]"/{n += $2} END{print n + 0}'
}

if ((have_curl)); then
    code=$(curl -s --max-time 5 -o "$work/probe.gif" -w '%{http_code} %{content_type}' \
        -H "Referer: $referer" -H "User-Agent: $user_agent" "${extra_headers[@]}" "$url" || true)
    [[ $code == "200 image/gif" ]] || die "probe GET $url answered '$code', not '200 image/gif'"
fi

cpu_ticks() { # utime + stime of the whole process (fields 14, 15 of /proc/<pid>/stat)
    local s rest
    s=$(<"/proc/$1/stat")
    rest=${s##*) }
    local -a f
    read -ra f <<<"$rest"
    echo $((f[11] + f[12]))
}

run_wrk() { # scenario seconds output-file
    local sc=$1 secs=$2 file=$3 rc=0
    local -a args=(-t1 -c64 "-d${secs}s" --latency -H "Referer: $referer" -H "User-Agent: $user_agent"
        "${extra_headers[@]}")
    local -a tail_args=()
    case $sc in
        keepalive) ;;
        close) args+=(-H 'Connection: close') ;;
        pipelined) args+=(-s "$here/pipeline.lua"); tail_args=(-- "$pipeline_depth") ;;
    esac
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

echo "pixel_load: pixelring $version pid $server_pid on 127.0.0.1:$port (admin $admin_port), CPU 0; wrk on CPU 1"
read -r load1 _ </proc/loadavg
if awk -v l="$load1" 'BEGIN{exit !(l > 1.5)}'; then
    echo "pixel_load: WARNING: load average $load1 on $(nproc) CPUs: other work competes with the server and wrk"
fi
echo "pixel_load: $rounds round(s) of ${scenario_list[*]}: warm-up ${warmup}s, measured ${duration}s, wrk -t1 -c64; out $out"
printf 'round\tscenario\trequests\treq_per_s\tp99_ms\tcpu_ticks\twall_s\tus_per_req\tcpu_pct\tsocket_errors\tnon2xx_wrk\tserver_accepted\tserver_non2xx\tcpu0_other_pct\tcpu1_busy_pct\twrk_cpu_pct\tserver_dropped\n' >"$runs_tsv"

k0=0 k1=0
for ((r = 1; r <= rounds; r++)); do
    for sc in "${scenario_list[@]}"; do
        if ((warmup > 0)); then
            run_wrk "$sc" "$warmup" "$out/wrk/r${r}-${sc}-warmup.txt"
        fi
        file=$out/wrk/r${r}-${sc}.txt
        m0=$(metrics)
        b0=$(cpu_busy 0)
        w0=$(cpu_busy 1)
        children_cpu k0
        t0=$(now)
        c0=$(cpu_ticks "$server_pid")
        run_wrk "$sc" "$duration" "$file"
        c1=$(cpu_ticks "$server_pid")
        t1=$(now)
        children_cpu k1
        b1=$(cpu_busy 0)
        w1=$(cpu_busy 1)
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
        dt=$((c1 - c0))
        # other = CPU 0 busy time not spent by pixelring (other processes, steal); cpu1 = wrk's CPU
        # wrkcpu = wrk's own CPU (children of this shell)
        read -r wall us cpu other cpu1 wrkcpu < <(awk -v a="$t0" -v b="$t1" -v d="$dt" -v hz="$clk_tck" -v n="$requests" \
            -v o=$((b1 - b0 - dt)) -v c1=$((w1 - w0)) -v k0="$k0" -v k1="$k1" 'BEGIN{w = b - a
                printf "%.3f %.3f %.1f %.1f %.1f %.1f\n", w, d / hz * 1e6 / n, d / hz / w * 100,
                    (o > 0 ? o : 0) / hz / w * 100, c1 / hz / w * 100, (k1 - k0) / w * 100}')
        acc="-"
        drop="-"
        srv_non2xx="-"
        if [[ -n $m0 && -n $m1 ]]; then
            acc=$(($(accepted_of <<<"$m1") - $(accepted_of <<<"$m0")))
            drop=$(($(dropped_of <<<"$m1") - $(dropped_of <<<"$m0")))
            srv_non2xx=$(($(non2xx_of <<<"$m1") - $(non2xx_of <<<"$m0")))
        fi
        # The server's count checks wrk's: wrk counts responses (also when pipelining); the server
        # may have taken up to connections x depth more (in flight when wrk stopped).
        if [[ $acc != - ]] && ((acc + drop < requests || acc + drop > requests + 64 * pipeline_depth)); then
            echo "  !! $sc round $r: server accepted $acc and dropped $drop events but wrk counted $requests requests"
        fi
        if [[ $drop != - ]] && ((drop > 0)); then
            echo "  !! $sc round $r: the server DROPPED $drop events (answered, not recorded; see pixelring_events_dropped_total)"
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$sc" "$requests" "$rps" "$p99" \
            "$dt" "$wall" "$us" "$cpu" "${sock:-none}" "${non2xx:-0}" "$acc" "$srv_non2xx" "$other" "$cpu1" "$wrkcpu" "$drop" >>"$runs_tsv"
        printf 'round %d %-9s %10.0f req/s  p99 %8s ms  %7.3f us/req server CPU  server CPU %5.1f%%  (%s requests in %ss; server accepted %s, dropped %s; CPU 0 other %s%%; wrk %s%% of CPU 1, busy %s%%)\n' \
            "$r" "$sc" "$rps" "$p99" "$us" "$cpu" "$requests" "$wall" "$acc" "$drop" "$other" "$wrkcpu" "$cpu1"
        if awk -v o="$other" 'BEGIN{exit !(o > 10)}'; then
            echo "  !! CPU 0 was ${other}% busy with other work (not pixelring): req/s and latency are not the server's own"
        fi
        if [[ -n $sock || ${non2xx:-0} != 0 || ($srv_non2xx != - && $srv_non2xx != 0) ]]; then
            echo "  !! $sc round $r: socket errors: ${sock:-none}; wrk non-2xx/3xx: ${non2xx:-0}; server non-2xx: $srv_non2xx"
        fi
    done
done

# Stop the server and check the event file against what it accepted.
kill -TERM "$server_pid"
timeout "$stop_timeout_s" tail --pid="$server_pid" -f /dev/null ||
    die "pixelring did not stop within ${stop_timeout_s}s of SIGTERM"
server_rc=0
wait "$server_pid" || server_rc=$?
server_pid=""
stop_line=$(grep -m1 'pixelring: stopped:' "$server_log" || true)
[[ $stop_line =~ stopped:\ ([0-9]+)\ events\ accepted,\ ([0-9]+)\ written,\ ([0-9]+)\ dropped ]] ||
    { cat "$server_log" >&2; die "no 'pixelring: stopped:' line (exit status $server_rc)"; }
accepted=${BASH_REMATCH[1]}
written=${BASH_REMATCH[2]}
dropped=${BASH_REMATCH[3]}
lines=$(find "$work/events" -type f -exec cat {} + | wc -l)

{
    echo "# pixelring load: wrk, file sink, 1 worker"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); pixelring $version ($(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)); $(wrk --version 2>&1 | head -1 | awk '{print $1, $2}')"
    echo "- host: $(nproc) CPUs ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)), kernel $(uname -r); server on CPU 0, wrk on CPU 1"
    echo "- command: bench/wrk/pixel_load.sh --duration $duration --warmup $warmup --rounds $rounds --scenarios $scenarios${extra_sets[*]:+ ${extra_sets[*]}}${extra_headers[*]:+ (headers: ${extra_headers[*]})}"
    echo "- each run: warm-up ${warmup}s, then \`wrk -t1 -c64 -d${duration}s --latency\`; pipelined = $pipeline_depth requests per write (pipeline.lua)"
    echo "- server CPU = utime+stime of all pixelring threads over the measured window; µs/req = CPU / wrk requests"
    echo
    echo "| scenario | runs | req/s median | req/s min–max | server CPU µs/req median | µs/req min–max | p99 ms median | server CPU % median | wrk CPU % median | CPU 0 other % median | events dropped (sum) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for sc in "${scenario_list[@]}"; do
        awk -F'\t' -v sc="$sc" '
            function med(a, n,   i, j, t) {
                for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
                return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
            }
            NR > 1 && $2 == sc { n++; rps[n] = $4 + 0; us[n] = $8 + 0; if ($5 != "n/a") p99[++np] = $5 + 0; cpu[n] = $9 + 0; oth[n] = $14 + 0; wc[n] = $16 + 0; drop += $17 }
            END {
                if (!n) exit
                m = med(rps, n); lo = rps[1]; hi = rps[n]
                mu = med(us, n); ulo = us[1]; uhi = us[n]
                printf "| %s | %d | %.0f | %.0f–%.0f | %.3f | %.3f–%.3f | %s | %.1f | %.1f | %.1f | %d |\n",
                    sc, n, m, lo, hi, mu, ulo, uhi, (np ? sprintf("%.3f", med(p99, np)) : "n/a"), med(cpu, n), med(wc, n), med(oth, n), drop
            }' "$runs_tsv"
    done
    echo
    echo "p99 is wrk's (--latency). With pipelining wrk's percentiles are unreliable (latency counted from the write of the whole batch; wg/wrk#236); n/a = wrk printed 0."
    echo "wrk CPU % = the client's own CPU (one core = 100): near 100 the client, not the server, sets req/s."
    echo "CPU 0 other % = CPU 0 busy time (/proc/stat) not spent by pixelring: other processes or steal; above a few % the req/s and latency are the machine's, not the server's."
    echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo "events dropped = pixelring_events_dropped_total during the measured runs (answered with the GIF, never written: ring_full when the sink falls behind)."
    echo "Events: server accepted $accepted, written $written, dropped $dropped; event file lines $lines."
} >"$out/results.md"

echo
cat "$out/results.md"
echo
echo "pixel_load: server: $stop_line"
echo "pixel_load: event file lines: $lines; server accepted: $accepted"
status=0
if [[ $lines != "$accepted" || $written != "$accepted" || $server_rc != 0 ]]; then
    keep_work=1
    {
        echo "################################################################"
        echo "## pixel_load: WARNING: EVENTS LOST OR UNACCOUNTED"
        echo "## event file lines $lines, accepted $accepted, written $written, exit status $server_rc"
        echo "################################################################"
    } >&2
    status=3
else
    echo "pixel_load: OK: every accepted event is in the event file ($lines lines)"
fi
if ((dropped != 0)); then
    {
        echo "################################################################"
        echo "## pixel_load: WARNING: THE SERVER DROPPED $dropped EVENTS UNDER LOAD"
        echo "## (answered, never accepted: $stop_line)"
        echo "################################################################"
    } >&2
    status=3
fi
echo "pixel_load: results in $out/results.md (per run: $runs_tsv, wrk output: $out/wrk/, server log: $server_log)"
exit "$status"
