#!/usr/bin/env bash
# Builds pixelring (installing what it needs) and runs the whole test suite: unit tests,
# end-to-end tests against the real binary on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh release
ctest --preset release -j 2
