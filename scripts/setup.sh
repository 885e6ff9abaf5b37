#!/usr/bin/env bash
# Installs the Debian 12 packages pixelring builds with (when any is missing), then
# configures and builds one CMake preset.
# Usage: scripts/setup.sh [release|asan|tsan] [target...]   (default: release, every target)
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
shift || true
targets=()
for t in "$@"; do targets+=(--target "$t"); done

packages=(
  build-essential cmake ninja-build pkg-config git
  liburing-dev librdkafka-dev libtomlplusplus-dev libfmt-dev libcli11-dev libreaderwriterqueue-dev
  libsimdjson-dev libsodium-dev libmaxminddb-dev libmimalloc-dev libsystemd-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev clang-format
  curl openssl wrk procps kcat chromium systemd-container python3 python3-h11 certbot pebble
  testssl.sh python3-jsonschema prometheus clickhouse-server clickhouse-client
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)" "${targets[@]}"
