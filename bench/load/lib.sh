# shellcheck shell=bash disable=SC2034  # sets globals for the scripts that source it
# lib.sh: shared pieces of the load harness (bench/load/run.sh): the request every server gets,
# starting and stopping the servers (by PID), wrk runs, /proc CPU accounting, wrk output parsing.
# Source it from bash with `set -euo pipefail`; set load_name (message prefix) first.
# Every function that starts a process runs in the calling shell (not in $(...)), records the
# PID in a global (server_pid, broker_pid, wrk_pid) and load_cleanup stops exactly those.

# --- the request: the same for every server and scenario
load_path_query='/track/pageview.gif?campaignID=example.com&scroll-depth=70%25&dark-mode=true'
load_referer='https://example.com/blog/post?utm_source=news'
load_user_agent='Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
load_connections=64
load_pipeline_depth=16
load_start_timeout_s=15
load_stop_timeout_s=120

load_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
load_repo=$(cd "$load_dir/../.." && pwd)
load_name=${load_name:-load}

server_pid=""
server_name=""
broker_pid=""
wrk_pid=""
floor_port=""
load_work=""
load_keep_work=0
load_extra_headers=() # -H NAME:VALUE pairs for curl and wrk
load_campaigns=1

load_die() {
    echo "$load_name: $*" >&2
    exit 1
}
load_warn_box() { # lines...: a loud warning on stderr
    {
        echo "################################################################"
        local l
        for l in "$@"; do echo "## $load_name: $l"; done
        echo "################################################################"
    } >&2
}
load_need() { # tool [apt package]: exit 2 when missing
    command -v "$1" >/dev/null && return 0
    echo "$load_name: $1 is not installed${2:+: apt-get install $2}" >&2
    exit 2
}
load_whole() { # option value min: a whole number >= min
    if ! [[ $2 =~ ^[0-9]+$ ]] || ((10#$2 < $3)); then load_die "$1: a whole number >= $3, got '$2'"; fi
}

# A reproducible pixelring: no PIXELRING_* or NanoTrack variables from this shell.
load_env_clear=()
while IFS= read -r v; do
    case $v in
        PIXELRING_* | DB_TYPE | DISABLE_IP_TRACKING | DISABLE_USER_AGENT_TRACKING | DASHBOARD_USER | DASHBOARD_PASSWORD | TRACKING_IMAGE)
            load_env_clear+=(-u "$v") ;;
    esac
done < <(compgen -e)

# --- process control
load_stop_pid() { # pid name [signal]: signal (TERM), bounded wait, then KILL
    local pid=$1 name=$2 sig=${3:-TERM}
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    echo "$load_name: stopping $name (pid $pid)" >&2
    kill "-$sig" "$pid" 2>/dev/null || true
    if ! timeout "$load_stop_timeout_s" tail --pid="$pid" -f /dev/null; then
        echo "$load_name: $name (pid $pid) ignored SIG$sig for ${load_stop_timeout_s}s: SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317  # run by the EXIT trap
load_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $wrk_pid ]] && kill -0 "$wrk_pid" 2>/dev/null; then
        kill -TERM "$wrk_pid" 2>/dev/null || true
        wait "$wrk_pid" 2>/dev/null || true
    fi
    local sig=TERM
    [[ $server_name == nginx ]] && sig=QUIT
    load_stop_pid "$server_pid" "${server_name:-server}" "$sig" # before the broker: it flushes to it
    load_stop_pid "$broker_pid" pixelring-devkafka
    if [[ -n $load_work && -d $load_work ]]; then
        if ((load_keep_work)); then
            echo "$load_name: kept $load_work (event files, spool)" >&2
        else
            rm -rf "$load_work"
        fi
    fi
    exit "$rc"
}
load_install_traps() {
    trap load_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

load_port_taken() { # port: 0 when something listens on it (any address) or answers on loopback
    local port=$1
    if command -v ss >/dev/null && [[ -n $(ss -Hltn "sport = :$port" 2>/dev/null) ]]; then return 0; fi
    timeout 2 bash -c ": <>/dev/tcp/127.0.0.1/$port" 2>/dev/null
}

load_still_starting() { # name log deadline: dies (showing the log) when server_pid has exited
    local name=$1 log=$2 deadline=$3 # or the deadline (SECONDS) has passed
    if ! kill -0 "$server_pid" 2>/dev/null; then
        cat "$log" >&2
        server_pid=""
        load_die "$name exited before listening"
    fi
    if ((SECONDS >= deadline)); then
        cat "$log" >&2
        load_die "$name did not print its start line within ${load_start_timeout_s}s"
    fi
}

load_wait_start_line() { # log sink: waits for pixelring's start line; sets px_port, px_admin_port,
    # px_tls_port (empty without server.tls_listen)
    local log=$1 sink=$2 line deadline=$((SECONDS + load_start_timeout_s))
    while :; do
        line=$(grep -m1 -E '^pixelring .* listening on ' "$log" || true)
        if [[ $line =~ listening\ on\ 127\.0\.0\.1:([0-9]+)(\ https\ 127\.0\.0\.1:([0-9]+))?\ admin\ 127\.0\.0\.1:([0-9]+)\ workers\ ([0-9]+)\ sink\ ([a-z]+) ]]; then
            px_port=${BASH_REMATCH[1]}
            px_tls_port=${BASH_REMATCH[3]}
            px_admin_port=${BASH_REMATCH[4]}
            [[ ${BASH_REMATCH[5]} == 1 && ${BASH_REMATCH[6]} == "$sink" ]] || load_die "unexpected start line: $line"
            px_version=$(awk '/ listening on /{print $2; exit}' "$log")
            return 0
        fi
        load_still_starting pixelring "$log" "$deadline"
        sleep 0.05
    done
}

# 1 (run.sh --activated): pixelring's listeners come from systemd-socket-activate, as from
# pixelring.socket and pixelring-admin.socket under systemd (passed by name); it starts
# pixelring on the first connection, which load_start_pixelring then makes.
load_activated=0

load_free_port() { # a loopback port nothing listens on now
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# load_start_pixelring bin sink dir log [pixelring args...]: one worker on CPU 0, ports 0 (the
# kernel picks free ones; free ports given to systemd-socket-activate with load_activated),
# cwd dir; sets server_pid, px_port, px_admin_port, px_version.
load_start_pixelring() {
    local bin=$1 sink=$2 dir=$3 log=$4 launcher=() public="" deadline
    shift 4
    if ((load_activated)); then
        public=$(load_free_port)
        launcher=(systemd-socket-activate -l "127.0.0.1:$public" -l "127.0.0.1:$(load_free_port)"
            --fdname=public:admin)
    fi
    : >"$log"
    (
        cd "$dir" || exit 1
        exec env "${load_env_clear[@]}" taskset -c 0 "${launcher[@]}" "$bin" \
            --set server.listen=127.0.0.1:0 --set admin.listen=127.0.0.1:0 \
            --set server.workers=1 --set "sink.type=$sink" "$@"
    ) </dev/null >"$log.stdout" 2>"$log" &
    server_pid=$!
    server_name=pixelring-$sink
    if ((load_activated)); then
        deadline=$((SECONDS + load_start_timeout_s))
        until (($(grep -c '^Listening on ' "$log") >= 2)); do
            load_still_starting systemd-socket-activate "$log" "$deadline"
            sleep 0.05
        done
        timeout 2 bash -c ": <>/dev/tcp/127.0.0.1/$public" 2>/dev/null || true
    fi
    load_wait_start_line "$log" "$sink"
}

# load_start_floor bin dir log: bench/floor_server (the io_uring floor) on CPU 0, port 0, cwd
# dir; waits for "floor_server listening on 127.0.0.1:PORT"; sets server_pid, floor_port.
load_start_floor() {
    local bin=$1 dir=$2 log=$3 line deadline=$((SECONDS + load_start_timeout_s))
    : >"$log"
    (
        cd "$dir" || exit 1
        exec taskset -c 0 "$bin" --listen 127.0.0.1:0
    ) </dev/null >"$log.stdout" 2>"$log" &
    server_pid=$!
    server_name=floor
    while :; do
        line=$(grep -m1 '^floor_server listening on ' "$log" || true)
        if [[ $line =~ ^floor_server\ listening\ on\ 127\.0\.0\.1:([0-9]+)$ ]]; then
            floor_port=${BASH_REMATCH[1]}
            return 0
        fi
        [[ -z $line ]] || load_die "unexpected start line from floor_server: $line"
        load_still_starting floor_server "$log" "$deadline"
        sleep 0.05
    done
}

# load_start_devkafka bin cpu brokers topic partitions dir log: sets broker_pid, kafka_bootstrap.
load_start_devkafka() {
    local bin=$1 cpu=$2 brokers=$3 topic=$4 partitions=$5 dir=$6 log=$7
    local deadline=$((SECONDS + load_start_timeout_s))
    : >"$log"
    rm -f "$dir/bootstrap"
    taskset -c "$cpu" "$bin" --brokers "$brokers" --topic "$topic:$partitions" \
        --bootstrap-file "$dir/bootstrap" </dev/null >"$log.stdout" 2>"$log" &
    broker_pid=$!
    until [[ -s $dir/bootstrap ]]; do
        if ! kill -0 "$broker_pid" 2>/dev/null; then
            cat "$log" >&2
            broker_pid=""
            load_die "pixelring-devkafka exited before writing its bootstrap file"
        fi
        ((SECONDS < deadline)) || load_die "pixelring-devkafka wrote no bootstrap file within ${load_start_timeout_s}s"
        sleep 0.05
    done
    kafka_bootstrap=$(<"$dir/bootstrap")
}

# load_write_nginx_conf dir port [tls-port]: empty_gif, a buffered JSON access log, one process
# (no master), pixelring's response headers (cache headers, nosniff); every path nginx writes is
# under dir. With tls-port, also HTTPS there (load_tls_nginx: load_tls_dir's certificate, TLS 1.3
# only, load_tls_suite, load_tls_group, tickets and a shared session cache).
load_write_nginx_conf() {
    local d=$1 port=$2 tls_port=${3:-} tls_listen="" tls=""
    mkdir -p "$d/logs" "$d/tmp"
    if [[ -n $tls_port ]]; then
        tls_listen="listen 127.0.0.1:$tls_port ssl;"
        tls=$(load_tls_nginx)
    fi
    cat >"$d/nginx.conf" <<CONF
worker_processes 1;
daemon off;
master_process off;
error_log $d/logs/error.log;
pid $d/nginx.pid;
events { worker_connections 4096; }
http {
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  log_format json escape=json '{"ts":"\$time_iso8601","uri":"\$request_uri","ref":"\$http_referer","ua":"\$http_user_agent","ip":"\$remote_addr","host":"\$host"}';
  access_log $d/logs/access.log json buffer=64k flush=1s;
  keepalive_requests 10000;
  server {
    listen 127.0.0.1:$port;
    $tls_listen
$tls
    location /track/ {
      empty_gif;
      add_header Cache-Control "no-store, no-cache, must-revalidate, private, max-age=0" always;
      add_header Pragma no-cache always;
      add_header Expires 0 always;
      add_header CDN-Cache-Control no-store always;
      add_header X-Content-Type-Options nosniff always;
    }
  }
}
CONF
}

# load_start_nginx dir port [tls-port]: nginx on CPU 0 (refuses a taken port); sets server_pid.
load_start_nginx() {
    local d=$1 port=$2 tls_port=${3:-} deadline=$((SECONDS + load_start_timeout_s))
    if load_port_taken "$port"; then
        load_die "port 127.0.0.1:$port is taken; refusing to start nginx there (--nginx-port N)"
    fi
    if [[ -n $tls_port ]] && load_port_taken "$tls_port"; then
        load_die "port 127.0.0.1:$tls_port is taken; refusing to start nginx there (--nginx-tls-port N)"
    fi
    load_write_nginx_conf "$d" "$port" "$tls_port"
    taskset -c 0 nginx -e "$d/logs/error.log" -p "$d" -c "$d/nginx.conf" </dev/null \
        >"$d/logs/stdout" 2>&1 &
    server_pid=$!
    server_name=nginx
    until curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$port/"; do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            cat "$d/logs/error.log" "$d/logs/stdout" >&2 || true
            server_pid=""
            load_die "nginx exited before listening on 127.0.0.1:$port"
        fi
        ((SECONDS < deadline)) || load_die "nginx did not answer on 127.0.0.1:$port within ${load_start_timeout_s}s"
        sleep 0.05
    done
    # The listener must be ours: a race with another program would measure the wrong server.
    kill -0 "$server_pid" 2>/dev/null || load_die "nginx (pid $server_pid) exited after starting"
}

# load_probe url headers-file: one GET with the harness's headers, must be 200 image/gif.
load_probe() {
    local code
    code=$(curl -s --max-time 5 -o /dev/null -D "$2" -w '%{http_code} %{content_type}' \
        -H "Referer: $load_referer" -H "User-Agent: $load_user_agent" "${load_extra_headers[@]}" "$1" || true)
    [[ $code == "200 image/gif" ]] || load_die "probe GET $1 answered '$code', not '200 image/gif'"
}

# --- HTTPS: one certificate for every server, TLS 1.3 with one suite and one group
load_tls_suite=TLS_AES_128_GCM_SHA256
load_tls_group=X25519
load_tls_dir="" # set by load_make_tls: cert.pem, key.pem, client.cnf

# load_make_tls dir: a self-signed ECDSA P-256 certificate for localhost and 127.0.0.1 (2 days)
# and its key, and client.cnf: an OpenSSL configuration whose system_default makes every client
# context (wrk's, which sets no ciphers itself) TLS 1.3 only with load_tls_suite and
# load_tls_group; sets load_tls_dir.
load_make_tls() {
    local d=$1
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 2 \
        -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$d/key.pem" -out "$d/cert.pem" 2>"$d/openssl.log" ||
        { cat "$d/openssl.log" >&2; load_die "openssl could not make the test certificate"; }
    cat >"$d/client.cnf" <<CNF
openssl_conf = load_client
[load_client]
ssl_conf = load_ssl
[load_ssl]
system_default = load_tls13
[load_tls13]
MinProtocol = TLSv1.3
MaxProtocol = TLSv1.3
Ciphersuites = $load_tls_suite
Groups = $load_tls_group
CNF
    load_tls_dir=$d
}

# load_tls_nginx: the ssl_* lines of nginx's server block. Tickets on and a shared cache, so
# that sessions resume (TLS 1.3: by ticket, PSK with a new X25519 share).
load_tls_nginx() {
    cat <<CONF
    ssl_certificate $load_tls_dir/cert.pem;
    ssl_certificate_key $load_tls_dir/key.pem;
    ssl_protocols TLSv1.3;
    ssl_conf_command Ciphersuites $load_tls_suite;
    ssl_ecdh_curve $load_tls_group;
    ssl_session_tickets on;
    ssl_session_cache shared:SSL:10m;
    ssl_session_timeout 1h;
CONF
}

# load_tls_pixelring: pixelring's --set arguments for HTTPS on port 0 with the same certificate,
# TLS 1.3 only (its suites and groups stay Mozilla's intermediate: the clients offer only
# load_tls_suite and load_tls_group).
load_tls_pixelring() {
    printf '%s\n' --set server.tls_listen=127.0.0.1:0 --set "tls.cert=$load_tls_dir/cert.pem" \
        --set "tls.key=$load_tls_dir/key.pem" --set tls.min_version=1.3
}

# load_probe_https port headers-file tls-file: one GET over HTTPS to localhost:port (127.0.0.1),
# the chain checked against the test certificate, TLS 1.3 with load_tls_suite and
# load_tls_group only; must be 200 image/gif. tls-file gets what was negotiated.
load_probe_https() {
    local port=$1 code
    code=$(curl -s -v --max-time 5 -o /dev/null -D "$2" -w '%{http_code} %{content_type}' \
        --cacert "$load_tls_dir/cert.pem" --resolve "localhost:$port:127.0.0.1" \
        --tlsv1.3 --tls13-ciphers "$load_tls_suite" --curves "$load_tls_group" \
        -H "Referer: $load_referer" -H "User-Agent: $load_user_agent" "${load_extra_headers[@]}" \
        "https://localhost:$port$load_path_query" 2>"$3.verbose" || true)
    grep -E '^\* (SSL connection using|ALPN)' "$3.verbose" >"$3" || true
    rm -f "$3.verbose"
    [[ $code == "200 image/gif" ]] || load_die "probe GET https://localhost:$port$load_path_query answered '$code', not '200 image/gif'"
    grep -q "TLSv1.3 / $load_tls_suite" "$3" ||
        load_die "probe over HTTPS to port $port did not negotiate TLSv1.3 / $load_tls_suite: $(tr '\n' ' ' <"$3")"
}

# --- requests.lua: pipelining and campaign IDs (wrk formats nothing per request)
load_lua=$load_dir/requests.lua

# load_run_wrk scenario seconds output-file base-url: wrk -t1 -cN on CPU 1, bounded by timeout.
# https-keepalive: base-url is https://, and OPENSSL_CONF (load_tls_dir/client.cnf) holds wrk's
# TLS to 1.3 with load_tls_suite and load_tls_group (wrk does not resume sessions).
load_run_wrk() {
    local sc=$1 secs=$2 file=$3 base=$4 rc=0 depth=1
    local -a args=(-t1 "-c$load_connections" "-d${secs}s" --latency
        -H "Referer: $load_referer" -H "User-Agent: $load_user_agent" "${load_extra_headers[@]}")
    local -a tail_args=() env_args=()
    case $sc in
        keepalive) ;;
        https-keepalive) env_args=("OPENSSL_CONF=$load_tls_dir/client.cnf") ;;
        close) args+=(-H 'Connection: close') ;;
        pipelined) depth=$load_pipeline_depth ;;
        *) load_die "unknown scenario $sc" ;;
    esac
    if ((depth > 1 || load_campaigns > 1)); then
        args+=(-s "$load_lua")
        tail_args=(-- "$depth" "$load_campaigns")
    fi
    env "${env_args[@]}" timeout $((secs + 30)) taskset -c 1 wrk "${args[@]}" "$base$load_path_query" \
        "${tail_args[@]}" >"$file" 2>&1 &
    wrk_pid=$!
    wait "$wrk_pid" || rc=$?
    wrk_pid=""
    if ((rc != 0)); then
        cat "$file" >&2
        load_die "wrk ($sc) failed with status $rc"
    fi
}

# load_parse_wrk file: sets w_requests, w_rps, w_p99 (ms or n/a), w_sock (empty: none), w_non2xx.
load_parse_wrk() {
    local f=$1
    w_requests=$(awk '/ requests in /{print $1; exit}' "$f")
    w_rps=$(awk '/^Requests\/sec:/{print $2; exit}' "$f")
    # wrk prints 0 for the pipelined percentiles (latency counted per batch; wg/wrk#236): n/a
    w_p99=$(awk '/Latency Distribution/{d = 1} d && $1 == "99%" {
            v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
            f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : -1
            if (v * f > 0) printf "%.3f", v * f; else printf "n/a"; exit }' "$f")
    w_sock=$(awk '/Socket errors:/{sub(/^ *Socket errors: */, ""); print; exit}' "$f")
    w_non2xx=$(awk '/Non-2xx or 3xx responses:/{print $NF; exit}' "$f")
    w_non2xx=${w_non2xx:-0}
    if [[ -z $w_requests || -z $w_rps || -z $w_p99 ]]; then
        cat "$f" >&2
        load_die "cannot parse wrk output ($f)"
    fi
    ((w_requests > 0)) || { cat "$f" >&2; load_die "wrk completed no request ($f)"; }
}

# load_run_tls scenario seconds output-file port [tickets-file]: bench/tls_load (load_tls_load) on CPU 1,
# load_connections at once, one GET per new TLS 1.3 connection: https-resumed offers each
# connection the ticket its slot got last, https-full none. Bounded by timeout. Sets tls_rc:
# 0, or 4 when the resumption was not as the scenario says (tls_load's own check; the caller
# warns); any other status dies. tickets-file (https-resumed): the slots start with the tickets
# it holds, and it gets those they hold at the end (tls_load --sessions).
load_tls_load=""
load_run_tls() {
    local sc=$1 secs=$2 file=$3 port=$4 tickets=${5:-} mode
    local -a args=(--connect "127.0.0.1:$port" --duration "$secs" --connections "$load_connections"
        --path "$load_path_query" --header "Referer: $load_referer"
        --header "User-Agent: $load_user_agent" --campaigns "$load_campaigns"
        --ciphersuites "$load_tls_suite" --groups "$load_tls_group" --sni localhost)
    local i
    for ((i = 1; i < ${#load_extra_headers[@]}; i += 2)); do args+=(--header "${load_extra_headers[i]}"); done
    case $sc in
        https-resumed) mode=resumed; [[ -z $tickets ]] || args+=(--sessions "$tickets") ;;
        https-full) mode=full ;;
        *) load_die "unknown tls_load scenario $sc" ;;
    esac
    tls_rc=0
    timeout $((secs + 30)) taskset -c 1 "$load_tls_load" --mode "$mode" "${args[@]}" >"$file" 2>&1 &
    wrk_pid=$!
    wait "$wrk_pid" || tls_rc=$?
    wrk_pid=""
    if ((tls_rc != 0 && tls_rc != 4)); then
        cat "$file" >&2
        load_die "tls_load ($sc) failed with status $tls_rc"
    fi
}

# load_parse_tls file: as load_parse_wrk (w_requests, w_rps, w_p99, w_sock, w_non2xx), and
# w_handshakes, w_resumed, w_resumed_pct (of the handshakes that offered a ticket),
# w_negotiated ("TLSv1.3 TLS_AES_128_GCM_SHA256 X25519").
load_parse_tls() {
    local f=$1 k v
    local -A kv=()
    while read -r k v; do [[ -z $k ]] || kv[$k]=$v; done <"$f"
    w_requests=${kv[requests]:-} w_rps=${kv[requests_per_s]:-} w_p99=${kv[p99_ms]:-}
    w_non2xx=${kv[non2xx]:-0} w_handshakes=${kv[handshakes]:-} w_resumed=${kv[resumed]:-}
    w_negotiated=${kv[negotiated]:-none} w_resumed_pct=${kv[resumed_pct]:-}
    w_sock=""
    for k in connect tls io timeout; do
        v=${kv[errors_$k]:-0}
        ((v == 0)) || w_sock+="${w_sock:+, }$k $v"
    done
    ((${kv[other_parameters]:-0} == 0)) || w_sock+="${w_sock:+, }other TLS parameters ${kv[other_parameters]}"
    if [[ -z $w_requests || -z $w_rps || -z $w_p99 || -z $w_handshakes || -z $w_resumed || -z $w_resumed_pct ]]; then
        cat "$f" >&2
        load_die "cannot parse tls_load output ($f)"
    fi
    ((w_requests > 0)) || { cat "$f" >&2; load_die "tls_load completed no request ($f)"; }
}

# --- CPU accounting
load_clk_tck=$(getconf CLK_TCK)
load_cpu_ticks() { # pid: utime + stime of the whole process, all threads (/proc/<pid>/stat 14, 15)
    local s rest
    s=$(<"/proc/$1/stat")
    rest=${s##*) }
    local -a f
    read -ra f <<<"$rest"
    echo $((f[11] + f[12]))
}
# load_thread_ticks pid: one word TID:ROLE:TICKS:UTICKS per thread of pid (TICKS = utime +
# stime, UTICKS = utime, /proc/<pid>/task/<tid>/stat 14, 15), ROLE by the thread's name (comm,
# between the first '(' and the last ')': a name may hold spaces and parentheses): workers
# (pixelring-w*, the io_uring workers), sink (pixelring-sink), other (anything else: main,
# admin, sync, the Kafka watcher, librdkafka's rdk:* threads). A thread that exits while this
# runs is skipped.
load_thread_ticks() {
    local t s comm role out=""
    local -a f
    for t in /proc/"$1"/task/[0-9]*; do
        { read -r s <"$t/stat"; } 2>/dev/null || continue
        comm=${s%) *}
        comm=${comm#*(}
        read -ra f <<<"${s##*) }"
        case $comm in
            pixelring-w*) role=workers ;;
            pixelring-sink) role=sink ;;
            *) role=other ;;
        esac
        out+="${t##*/}:$role:$((f[11] + f[12])):${f[11]} "
    done
    echo "${out% }"
}
# load_thread_split before after: "workers sink other sink_user", the ticks each role spent
# between two load_thread_ticks snapshots, matched by TID, and the sink's user-mode part of its
# ticks (its own code, not its system calls: what work added to the sink thread's loop, such as
# the dashboard's counting, changes, apart from the writes' kernel time). A thread missing from
# before (started in between) counts from 0. A thread missing from after (exited in between) is
# lost: its ticks in between are in no part, though the process's total (load_cpu_ticks:
# /proc/<pid>/stat keeps the ticks of exited threads) has them, so the three parts may sum to
# less than the total. Without exits they still may differ from it by a tick or so: the kernel
# scales each thread's and the process's utime/stime from the scheduler's run time separately.
load_thread_split() {
    local -A before=() before_user=() sum=([workers]=0 [sink]=0 [other]=0)
    local -a a
    local w tid role ticks uticks sink_user=0
    read -ra a <<<"$1"
    for w in "${a[@]}"; do
        IFS=: read -r tid role ticks uticks <<<"$w"
        before[$tid]=$ticks before_user[$tid]=$uticks
    done
    read -ra a <<<"$2"
    for w in "${a[@]}"; do
        IFS=: read -r tid role ticks uticks <<<"$w"
        # a TID reused by a new thread after the old one exited: from 0, like any new thread
        if [[ -v before[$tid] ]] && ((ticks >= before[$tid] && uticks >= before_user[$tid])); then
            ticks=$((ticks - before[$tid])) uticks=$((uticks - before_user[$tid]))
        fi
        sum[$role]=$((sum[$role] + ticks))
        [[ $role == sink ]] && sink_user=$((sink_user + uticks))
    done
    echo "${sum[workers]} ${sum[sink]} ${sum[other]} $sink_user"
}
load_cpu_busy() { # cpu: busy ticks (user nice system irq softirq steal; /proc/stat)
    awk -v c="cpu$1" '$1 == c {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat
}
load_now() { date +%s.%N; }
load_children_cpu() { # var: user+sys seconds of this shell's reaped children (wrk via timeout)
    times >"$load_work/times" # in this shell, not in a $(...) subshell
    printf -v "$1" '%s' "$(awk 'NR == 2 {t = 0; for (i = 1; i <= 2; i++) {split($i, a, "m"); t += a[1] * 60 + a[2]}; print t}' "$load_work/times")"
}

# --- pixelring /metrics
load_metrics() { curl -s --max-time 5 "http://127.0.0.1:$px_admin_port/metrics" || true; }
load_outcome_of() { # outcome: pixelring_events_total{outcome="..."}; delivered falls back to written
    awk -v o="$1" '
        $1 == "pixelring_events_total{outcome=\"" o "\"}" {print $2; found = 1; exit}
        o == "delivered" && $1 == "pixelring_events_total{outcome=\"written\"}" {w = $2}
        END {if (!found) print w + 0}'
}
load_dropped_of() { awk '/^pixelring_events_dropped_total\{/{n += $2} END{print n + 0}'; }
load_non2xx_of() { # http_requests_total with a status other than 2xx
    awk '/^pixelring_http_requests_total\{/ && !/status="2[0-9][0-9]"/{n += $2} END{print n + 0}'
}
