#!/usr/bin/env bash
# Static checks of systemd/: `systemd-analyze verify` of the units, the service's exposure
# from `systemd-analyze security --offline=yes` (at most 1.5, "OK"), and the packaged
# systemd/pixelring.toml against `pixelring --write-default-config -`.
# Usage: units_static_test.sh BUILD_DIR. Exit 77 without systemd-analyze.
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(cd "${1:?usage: units_static_test.sh BUILD_DIR}" && pwd)"
command -v systemd-analyze >/dev/null || { echo "skip: no systemd-analyze"; exit 77; }
failed=0

# verify wants ExecStart's binary to exist: the units as shipped, with the build's binary.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "$src"/systemd/pixelring.socket "$src"/systemd/pixelring-admin.socket "$tmp/"
sed "s|^ExecStart=/usr/bin/pixelring |ExecStart=$build/tools/pixelring |" \
  "$src/systemd/pixelring.service" >"$tmp/pixelring.service"
if out="$(cd "$tmp" && systemd-analyze verify --man=no ./pixelring.service ./pixelring.socket \
            ./pixelring-admin.socket 2>&1)" && [ -z "$out" ]; then
  echo "ok: systemd-analyze verify is clean"
else
  echo "FAIL: systemd-analyze verify:"; echo "$out"; failed=1
fi

line="$(systemd-analyze security --offline=yes "$src/systemd/pixelring.service" 2>&1 |
        grep 'Overall exposure level')"
exposure="$(sed -E 's/.*: ([0-9.]+) .*/\1/' <<<"$line")"
echo "$line"
if awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 1.5) }'; then
  echo "ok: exposure $exposure <= 1.5"
else
  echo "FAIL: exposure '$exposure' above 1.5"; failed=1
fi

if "$build/tools/pixelring" --write-default-config - | diff -u "$src/systemd/pixelring.toml" -; then
  echo "ok: systemd/pixelring.toml is pixelring --write-default-config"
else
  echo "FAIL: systemd/pixelring.toml differs from --write-default-config (regenerate it:"
  echo "  pixelring --write-default-config - > systemd/pixelring.toml)"; failed=1
fi
if "$build/tools/pixelring" --config "$src/systemd/pixelring.toml" --check-config >/dev/null; then
  echo "ok: pixelring --check-config accepts it"
else
  echo "FAIL: --check-config refuses systemd/pixelring.toml"; failed=1
fi
exit "$failed"
