#!/usr/bin/env bash
# The Debian package under a real systemd 252 (tests/system/nspawn.sh boots this machine's tree
# as a throwaway container). Builds the package (scripts/build-deb.sh) and a "newer" one (the
# same files under a higher version), then in the container, as an operator would:
#   apt-get install: the sockets and the service enabled and started, the configuration a conffile
#     readable by root and the pixelring group only;
#   READY (active only after it), the STATUS= line, a pixel's event in
#     /var/lib/pixelring/events.ndjson owned by pixelring, the start line in the journal,
#     /metrics on the admin socket, `systemd-analyze verify` of the installed units,
#     `systemctl reload`;
#   `systemctl restart` and an upgrade (dpkg -i of the newer package) each under wrk
#     keep-alive load: no socket error, every answer 2xx, every answered request's event;
#   a stopped process (SIGSTOP) that the watchdog kills and systemd restarts;
#   apt-get remove keeps the configuration and the events, apt-get purge removes them.
# Usage: service_test.sh BUILD_DIR (unused: the package is built from the tree). Exit 77 where
# nspawn cannot boot.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../.." && pwd)"
. "$here/nspawn.sh"
why="$(nspawn_skip_reason)"
if [ -n "$why" ]; then echo "skip: $why"; exit 77; fi

results="$(mktemp -d /var/tmp/pixelring-service-test.XXXXXX)"
deb="$("$src/scripts/build-deb.sh" | tail -n1)"
version="$(dpkg-deb -f "$deb" Version)"
newer_version="$version+upgrade1"
newer="$results/pixelring_${newer_version}_amd64.deb"
unpacked="$(mktemp -d)"
dpkg-deb -R "$deb" "$unpacked/p"
sed -i "s/^Version: .*/Version: $newer_version/" "$unpacked/p/DEBIAN/control"
dpkg-deb -b --root-owner-group "$unpacked/p" "$newer" >/dev/null
rm -rf "$unpacked"
cp "$deb" "$results/pixelring.deb"

driver="$results.driver.sh"
cat >"$driver" <<DRIVER
#!/bin/bash
# Runs inside the container; every check writes "ok NAME" or "FAIL NAME: why" to /out/results.
set -u
exec 2>&1
newer_version="$newer_version"
DRIVER
cat >>"$driver" <<'DRIVER'
pass() { echo "ok $1" >>/out/results; }
fail() { echo "FAIL $1: $2" >>/out/results; }
check() { local name="$1"; shift; if "$@"; then pass "$name"; else fail "$name" "$*"; fi; }
main_pid() { systemctl show -p MainPID --value pixelring.service; }
count() { grep -c "\"campaign\":\"$1\"" /var/lib/pixelring/events.ndjson; }

# wrk keep-alive load for 6 s with ACTION after 2 s; checks the counts. $1: name, $2...: action.
under_load() {
  local name="$1"; shift
  wrk -t 1 -c 8 -d 6s "http://127.0.0.1:8080/track/open.gif?campaignID=$name" >"/out/wrk-$name.txt" 2>&1 &
  local wrk_pid=$! old_pid t0
  sleep 2
  old_pid="$(main_pid)"
  t0="$(date +%s%N)"
  check "$name" "$@"
  local took=$(( ($(date +%s%N) - t0) / 1000000 ))
  wait "$wrk_pid"
  sleep 1
  check "${name}_new_process" test "$old_pid" != "$(main_pid)"
  local events requests errors non2xx
  events="$(count "$name")"
  requests="$(awk '/requests in/ {print $1}' "/out/wrk-$name.txt")"
  errors="$(grep 'Socket errors' "/out/wrk-$name.txt")"
  non2xx="$(awk '/Non-2xx/ {print $NF}' "/out/wrk-$name.txt")"
  echo "$name under load: took $took ms; wrk: $requests answered, socket errors: ${errors:-none}, non-2xx: ${non2xx:-0}; events: $events" >>/out/figures
  check "${name}_answered" test "${requests:-0}" -gt 0
  check "${name}_no_socket_errors" test -z "$errors"
  check "${name}_all_2xx" test -z "$non2xx"
  # wrk counts the answers it read; when its time is up each of its 8 connections may have
  # one more request answered (and recorded) that it no longer reads.
  check "${name}_every_answer_has_its_event" test "$events" -ge "$requests" -a "$events" -le "$((requests + 8))"
}

# The host tree's own services may hold the ports. Its policy-rc.d (a container image's
# "never start services on install") is not what a real machine has.
for s in nginx varnish apache2; do systemctl stop "$s" 2>/dev/null; done
rm -f /usr/sbin/policy-rc.d
# apt-get as the README says; every dependency is on this machine already (the container has
# no network).
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y /out/pixelring.deb; then
  fail install "apt-get install /out/pixelring.deb"
  echo done >>/out/results
  exit 0
fi
pass install
check socket_active test "$(systemctl is-active pixelring.socket)" = active
check admin_socket_active test "$(systemctl is-active pixelring-admin.socket)" = active
check service_active test "$(systemctl is-active pixelring.service)" = active
check enabled test "$(systemctl is-enabled pixelring.service)" = enabled
check config_mode test "$(stat -c '%a %U %G' /etc/pixelring/pixelring.toml)" = "640 root pixelring"
check verify systemd-analyze verify pixelring.service pixelring.socket pixelring-admin.socket
sleep 6 # one STATUS= period
status="$(systemctl show -p StatusText --value pixelring.service)"
echo "status line: $status" >>/out/figures
check status_line grep -Eq '^[0-9]+ requests/s, [0-9]+ events/s, [0-9]+ connections, sink file ok' <<<"$status"
code="$(curl -s -o /dev/null -w '%{http_code}' 'http://127.0.0.1:8080/track/open.gif?campaignID=first')"
check pixel test "$code" = 200
sleep 0.5
check event test "$(count first)" = 1
check event_owner test "$(stat -c %U /var/lib/pixelring/events.ndjson)" = pixelring
check metrics curl -sf http://127.0.0.1:9090/metrics -o /dev/null
check journal_start_line journalctl -u pixelring.service --no-pager -o cat -g 'listening on .* \(sockets from systemd\)'
check reload systemctl reload pixelring.service
check active_after_reload test "$(systemctl is-active pixelring.service)" = active

under_load restart systemctl restart pixelring.service
socket_since="$(systemctl show -p ActiveEnterTimestampMonotonic --value pixelring.socket)"
under_load upgrade dpkg -i "/out/pixelring_${newer_version}_amd64.deb"
check upgraded test "$(dpkg-query -W -f='${Version}' pixelring)" = "$newer_version"
# The upgrade restarted the service, not the socket: it stayed open throughout.
check socket_kept test "$(systemctl show -p ActiveEnterTimestampMonotonic --value pixelring.socket)" = "$socket_since"
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
journalctl -u pixelring.service --no-pager -o cat | grep -i watchdog | head -2 >>/out/figures
journalctl -u pixelring.service --no-pager >/out/journal.txt

# A stop that takes longer than TimeoutStopSec= by configuration: the Kafka sink with its
# broker away waits sink.kafka.stop_timeout_ms (4 s) for deliveries, then spools. The service
# asks for more time (EXTEND_TIMEOUT_USEC) and is not killed at 2 s; nothing is lost.
mkdir -p /etc/systemd/system/pixelring.service.d
cat >/etc/systemd/system/pixelring.service.d/drain.conf <<'UNIT'
[Service]
TimeoutStopSec=2s
Environment=PIXELRING_SINK_KAFKA_BROKERS=127.0.0.1:1 PIXELRING_SINK_KAFKA_STOP_TIMEOUT_MS=4000
UNIT
systemctl daemon-reload
check kafka_restart systemctl restart pixelring.service
# A Kafka outage longer than WatchdogSec=10s: the sink thread keeps turning (it spools), so
# the watchdog keeps being fed and systemd restarts nothing.
restarts_before="$(systemctl show -p NRestarts --value pixelring.service)"
kafka_pid="$(main_pid)"
sleep 15
check outage_no_watchdog test "$(main_pid)" = "$kafka_pid" -a "$(systemctl show -p NRestarts --value pixelring.service)" = "$restarts_before"
for i in $(seq 1 20); do
  curl -s -o /dev/null 'http://127.0.0.1:8080/track/open.gif?campaignID=drain'
done
t0="$(date +%s%N)"
check long_stop systemctl stop pixelring.service
took=$(( ($(date +%s%N) - t0) / 1000000 ))
stop_line="$(journalctl -u pixelring.service --no-pager -o cat -g 'stopped:' | tail -n1)"
echo "stop with Kafka away, TimeoutStopSec=2s: took $took ms; $stop_line" >>/out/figures
check long_stop_result test "$(systemctl show -p Result --value pixelring.service)" = success
check long_stop_took_longer test "$took" -ge 3500
check long_stop_spooled grep -q 'stopped: 20 events accepted, 0 delivered, 20 spooled, 0 dropped' <<<"$stop_line"
rm -rf /etc/systemd/system/pixelring.service.d
systemctl daemon-reload

check remove apt-get remove -y pixelring
check remove_keeps_config test -f /etc/pixelring/pixelring.toml
check remove_keeps_events test -f /var/lib/pixelring/events.ndjson
check purge apt-get purge -y pixelring
check purge_removes_config test ! -e /etc/pixelring
check purge_removes_state test ! -e /var/lib/pixelring
echo done >>/out/results
DRIVER

rc=0
nspawn_run "$driver" "$results" 600 || rc=$?
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
