#!/usr/bin/env bash
# Keep-alive pixels: pixelring (file sink) against nginx (empty_gif + a buffered JSON access
# log), each alone on CPU 0, wrk -t1 -c64 on CPU 1, rounds interleaved. Prints server CPU per
# request (utime+stime of the server process, all threads, over the measured window).
# Usage: bench/wrk/vs_nginx_keepalive.sh [rounds] [seconds]   (needs: apt-get install nginx wrk)
# The fuller side-by-side harness (scenarios, plots) is still to come; this is the quick peer
# check behind the README's nginx figure.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
secs=${2:-10}
bin=build/release/tools/pixelring
nginx_port=18080
for tool in nginx wrk taskset python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install nginx wrk)" >&2; exit 2; }
done
[[ -x $bin ]] || { echo "no $bin: cmake --preset release && cmake --build --preset release" >&2; exit 2; }
if python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1',$nginx_port))!=0)"; then
  echo "port $nginx_port is taken; refusing to start nginx there" >&2; exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vs_nginx.XXXXXX")
server_pid=""
cleanup() { [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/logs"
cat >"$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
master_process off;
error_log $work/logs/error.log;
pid $work/nginx.pid;
events { worker_connections 4096; }
http {
  log_format json escape=json '{"ts":"\$time_iso8601","uri":"\$request_uri","ref":"\$http_referer","ua":"\$http_user_agent","ip":"\$remote_addr","host":"\$host"}';
  access_log $work/logs/access.log json buffer=64k flush=1s;
  keepalive_requests 10000;
  server {
    listen 127.0.0.1:$nginx_port;
    location /track/ {
      empty_gif;
      add_header Cache-Control "no-store, no-cache, must-revalidate, private, max-age=0";
      add_header Pragma no-cache;
      add_header CDN-Cache-Control no-store;
      expires epoch;
    }
  }
}
CONF

target='/track/pageview.gif?campaignID=example.com&scroll-depth=70%25&dark-mode=true'
referer='Referer: https://example.com/blog/post?utm_source=news'
agent='User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
ticks=$(getconf CLK_TCK)

start_server() { # $1: nginx | pixelring; sets server_pid and port
  if [[ $1 == nginx ]]; then
    taskset -c 0 nginx -c "$work/nginx.conf" -p "$work" &
    server_pid=$!
    port=$nginx_port
    sleep 0.5
  else
    taskset -c 0 "$bin" --set server.listen=127.0.0.1:0 --set admin.listen=127.0.0.1:0 \
      --set server.workers=1 --set "sink.file.path=$work/events.ndjson" 2>"$work/pixelring.err" &
    server_pid=$!
    port=""
    for _ in $(seq 100); do
      port=$(grep -ao 'listening on 127.0.0.1:[0-9]*' "$work/pixelring.err" | cut -d: -f2 || true)
      [[ -n $port ]] && break
      sleep 0.05
    done
    [[ -n $port ]] || { echo "pixelring did not start" >&2; cat "$work/pixelring.err" >&2; exit 1; }
  fi
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }

for round in $(seq "$rounds"); do
  for server in nginx pixelring; do
    start_server "$server"
    url="http://127.0.0.1:$port$target"
    taskset -c 1 wrk -t1 -c64 -d2s "$url" -H "$referer" -H "$agent" >/dev/null
    before=$(cpu_ticks)
    requests=$(taskset -c 1 wrk -t1 -c64 -d"${secs}s" "$url" -H "$referer" -H "$agent" |
      grep -oE '[0-9]+ requests in' | cut -d' ' -f1)
    after=$(cpu_ticks)
    python3 -c "r=$requests; cpu=($after-$before)/$ticks
print('round $round  %-9s %8d req/s  %6.2f us server CPU per request' % ('$server', r/$secs, cpu*1e6/r))"
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  done
done
