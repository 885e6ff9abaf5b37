#!/usr/bin/env bash
# Builds the Debian package (debian/) on Debian 12 and checks it with lintian. Installs what the
# build needs first (debian/control's Build-Depends, dpkg-dev, lintian), through sudo when not
# root. The build runs in a copy of the tree under build/deb/ (dpkg-buildpackage writes its
# results next to the tree it builds); the last line printed is the path of the .deb.
# Usage: scripts/build-deb.sh [VERSION]   VERSION: a package version other than
# debian/changelog's (the upgrade test builds a "newer" package this way).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
version="${1:-}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

# Build-Depends names, without versions; debhelper-compat is provided by debhelper.
mapfile -t deps < <(sed -n '/^Build-Depends:/,/^[A-Z][A-Za-z-]*:/p' debian/control |
  sed -e 's/^Build-Depends://' -e '/^[A-Z][A-Za-z-]*:/d' | tr ',' '\n' |
  sed -e 's/([^)]*)//g' -e 's/[[:space:]]//g' -e '/^$/d' -e 's/^debhelper-compat$/debhelper/')
missing=()
for p in "${deps[@]}" dpkg-dev lintian; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "build-deb: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

out="$root/build/deb"
rm -rf "$out"
src="$out/pixelring"
mkdir -p "$src"
# The tracked files and new ones not ignored: what a clone holds, plus work in progress.
git ls-files -z --cached --others --exclude-standard | grep -zv '^build/' |
  tar --null -T - -cf - | tar -xf - -C "$src"
if [ -n "$version" ]; then
  sed -i "1s/^pixelring ([^)]*)/pixelring ($version)/" "$src/debian/changelog"
fi
(cd "$src" && dpkg-buildpackage -us -uc -b -j"$(nproc)" >"$out/build.log" 2>&1) || {
  tail -n 40 "$out/build.log"; echo "build-deb: dpkg-buildpackage failed; the log: $out/build.log" >&2; exit 1; }
deb="$(ls "$out"/pixelring_*.deb | grep -v dbgsym | head -n1)"
echo "build-deb: lintian:" >&2
lintian --fail-on error --info "$deb" >&2
echo "$deb"
