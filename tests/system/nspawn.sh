# Sourced by the system tests: boots this machine's own tree, overlaid so that the host is
# left untouched, as a throwaway container with a real systemd (systemd-nspawn), runs a driver
# script in it as a oneshot unit, and collects what the driver wrote to /out.
# Usage: nspawn_run DRIVER_SCRIPT RESULTS_DIR [TIMEOUT_S]. Returns 77 where nspawn cannot
# boot (not root, no systemd-nspawn, no overlayfs).

nspawn_skip_reason() {
  [ "$(id -u)" -eq 0 ] || { echo "not root"; return; }
  command -v systemd-nspawn >/dev/null || { echo "systemd-nspawn missing (apt-get install systemd-container)"; return; }
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || { echo "no overlayfs"; return; }
  grep -qw overlay /proc/filesystems || { echo "no overlayfs"; return; }
}

# Services the test suite's own packages enable on this machine (the ClickHouse and Prometheus
# tests start their own instances) and that a container of its tree need not boot.
nspawn_masks=()
for unit in clickhouse-server.service prometheus.service prometheus-node-exporter.service \
  smartmontools.service; do
  nspawn_masks+=("systemd.mask=$unit")
done

nspawn_run() {
  local driver="$1" results="$2" limit="${3:-300}"
  local why
  why="$(nspawn_skip_reason)"
  if [ -n "$why" ]; then echo "skip: $why"; return 77; fi
  local box
  box="$(mktemp -d /var/tmp/pixelring-nspawn.XXXXXX)"
  mkdir -p "$box/up" "$box/work" "$box/root" "$results"
  cat >"$box/driver.service" <<UNIT
[Unit]
Description=pixelring system test driver
After=multi-user.target
[Service]
Type=oneshot
StandardOutput=file:/out/driver.log
StandardError=inherit
ExecStart=/bin/bash /driver.sh
ExecStopPost=/bin/systemctl --no-block poweroff
UNIT
  mount -t overlay overlay -o "lowerdir=/,upperdir=$box/up,workdir=$box/work" "$box/root" || {
    echo "skip: cannot mount an overlay of /"; rm -rf "$box"; return 77; }
  local rc=0
  timeout "$limit" systemd-nspawn --quiet --directory="$box/root" --boot --private-network \
    --register=no --keep-unit --bind="$results:/out" --bind-ro="$driver:/driver.sh" \
    --bind-ro="$box/driver.service:/etc/systemd/system/driver.service" \
    -- systemd.firstboot=off systemd.wants=driver.service "${nspawn_masks[@]}" \
    >"$results/boot.log" 2>&1 || rc=$?
  umount "$box/root"
  rm -rf "$box"
  if [ "$rc" -ne 0 ]; then
    echo "systemd-nspawn ended with $rc (124: timed out after ${limit}s); its log:"
    tail -n 30 "$results/boot.log"
    if grep -q "Failed to" "$results/boot.log" && [ ! -s "$results/driver.log" ]; then return 77; fi
    return 1
  fi
  return 0
}
