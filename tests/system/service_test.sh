#!/usr/bin/env bash
# The service under a real systemd 252 (tests/system/nspawn.sh boots this machine's tree as a
# container): `cmake --install` of the build, systemd-sysusers and systemd-tmpfiles, then
# pixelring.socket, pixelring-admin.socket and pixelring.service as an operator starts them.
# Checks: READY (the unit is active only after it), the STATUS= line, a pixel's event in
# /var/lib/pixelring/events.ndjson owned by the pixelring user, the start line in the journal,
# `systemctl reload` (RELOADING/READY), `systemd-analyze verify` of the installed units,
# a restart under keep-alive load (counted: requests, errors, events), and a stopped process
# (SIGSTOP) that the watchdog kills and systemd restarts.
# Usage: service_test.sh BUILD_DIR. Exit 77 where nspawn cannot boot.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:?usage: service_test.sh BUILD_DIR}" && pwd)"
. "$here/nspawn.sh"

results="$(mktemp -d /var/tmp/pixelring-service-test.XXXXXX)"
driver="$results.driver.sh"
cat >"$driver" <<DRIVER
#!/bin/bash
# Runs inside the container; every check writes "ok NAME" or "FAIL NAME: why" to /out/results.
set -u
exec 2>&1
build="$build"
DRIVER
cat >>"$driver" <<'DRIVER'
pass() { echo "ok $1" >>/out/results; }
fail() { echo "FAIL $1: $2" >>/out/results; }
check() { local name="$1"; shift; if "$@"; then pass "$name"; else fail "$name" "$*"; fi; }
main_pid() { systemctl show -p MainPID --value pixelring.service; }

# The host tree's own services may hold the ports.
for s in nginx varnish apache2; do systemctl stop "$s" 2>/dev/null; done
cmake --install "$build" --prefix /usr >/out/install.log 2>&1 || fail install "cmake --install"
systemd-sysusers /usr/lib/sysusers.d/pixelring.conf
systemd-tmpfiles --create /usr/lib/tmpfiles.d/pixelring.conf
systemctl daemon-reload
check verify systemd-analyze verify pixelring.service pixelring.socket pixelring-admin.socket
systemctl enable --now pixelring.socket pixelring-admin.socket
check start systemctl start pixelring.service
check active test "$(systemctl is-active pixelring.service)" = active
sleep 6 # one STATUS= period
status="$(systemctl show -p StatusText --value pixelring.service)"
echo "status: $status"
check status_line grep -Eq '^[0-9]+ requests/s, [0-9]+ events/s, [0-9]+ connections, sink file ok' <<<"$status"
code="$(curl -s -o /dev/null -w '%{http_code}' 'http://127.0.0.1:8080/track/open.gif?campaignID=nspawn')"
check pixel test "$code" = 200
sleep 0.5
check event grep -q '"campaign":"nspawn"' /var/lib/pixelring/events.ndjson
check event_owner test "$(stat -c %U /var/lib/pixelring/events.ndjson)" = pixelring
check metrics curl -sf http://127.0.0.1:9090/metrics -o /dev/null
check journal_start_line journalctl -u pixelring.service --no-pager -o cat -g 'listening on .* \(sockets from systemd\)'
check reload systemctl reload pixelring.service
check active_after_reload test "$(systemctl is-active pixelring.service)" = active

# Restart under keep-alive load: wrk for 6 s, a restart after 2 s.
before="$(wc -l </var/lib/pixelring/events.ndjson)"
wrk -t 1 -c 8 -d 6s --latency 'http://127.0.0.1:8080/track/open.gif?campaignID=restart' >/out/wrk.txt 2>&1 &
wrk_pid=$!
sleep 2
old_pid="$(main_pid)"
t0="$(date +%s%N)"
check restart systemctl restart pixelring.service
echo "restart: systemctl restart took $(( ($(date +%s%N) - t0) / 1000000 )) ms" >>/out/figures
wait "$wrk_pid"
sleep 1
new_pid="$(main_pid)"
check new_process test "$old_pid" != "$new_pid"
events="$(( $(grep -c '"campaign":"restart"' /var/lib/pixelring/events.ndjson) ))"
requests="$(awk '/requests in/ {print $1}' /out/wrk.txt)"
errors="$(awk '/Socket errors/ {print}' /out/wrk.txt)"
non2xx="$(awk '/Non-2xx/ {print $NF}' /out/wrk.txt)"
echo "restart: requests $requests, events $events, socket errors: ${errors:-none}, non-2xx: ${non2xx:-0}" >>/out/figures
check restart_no_socket_errors test -z "$errors"
check restart_all_2xx test -z "$non2xx"
# wrk counts the answers it read; when its time is up each connection may have one more
# request answered (and recorded) that it no longer reads.
check restart_every_answer_has_its_event test "$events" -ge "$requests" -a "$events" -le "$((requests + 8))"
journalctl -u pixelring.service --no-pager -o cat -g 'stopped:' >>/out/figures

# The watchdog: a stopped process stops feeding it; systemd kills and restarts the service.
restarts_before="$(systemctl show -p NRestarts --value pixelring.service)"
stopped_pid="$(main_pid)"
kill -STOP "$stopped_pid"
for i in $(seq 1 60); do
  sleep 1
  now="$(main_pid)"
  if [ "$now" != "$stopped_pid" ] && [ "$now" != 0 ] && [ "$(systemctl is-active pixelring.service)" = active ]; then break; fi
done
check watchdog_restart test "$(main_pid)" != "$stopped_pid"
check watchdog_counted test "$(systemctl show -p NRestarts --value pixelring.service)" -gt "$restarts_before"
journalctl -u pixelring.service --no-pager -o cat | grep -i watchdog | head -3 >>/out/figures
journalctl -u pixelring.service --no-pager >/out/journal.txt
systemctl status pixelring.service --no-pager >/out/status.txt 2>&1
echo done >>/out/results
DRIVER

rc=0
nspawn_run "$driver" "$results" 300 || rc=$?
rm -f "$driver"
if [ "$rc" -eq 77 ]; then exit 77; fi
cat "$results/results" 2>/dev/null || true
cat "$results/figures" 2>/dev/null || true
if [ "$rc" -ne 0 ] || ! grep -q '^done' "$results/results" 2>/dev/null || grep -q '^FAIL' "$results/results"; then
  echo "service test failed; the container's output is in $results"
  tail -n 40 "$results/driver.log" 2>/dev/null || true
  exit 1
fi
rm -rf "$results"
echo "service test: all checks passed"
