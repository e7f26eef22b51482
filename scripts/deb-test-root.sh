#!/usr/bin/env bash
# A minimal Debian root file system for the package install test (npm run test:package):
# made once by mmdebstrap (minbase, from THIS machine's own apt sources, like
# scripts/docker-base-image.sh) and kept as a tarball; each test run unpacks a fresh copy.
# It holds dpkg and the package's non-Node dependency (iproute2), nothing of hafw.
#
# Usage: scripts/deb-test-root.sh [TARBALL]   prints the tarball's path on its last line
# Env:   HAFW_DEB_ROOT_REBUILD=1 makes it again.
set -euo pipefail

SUITE=${HAFW_BASE_SUITE:-bookworm}
OUT=${1:-/var/tmp/hafw-deb-test-root-$SUITE.tar}
say() { echo "deb-test-root: $*" >&2; }

if [ "${HAFW_DEB_ROOT_REBUILD:-0}" != 1 ] && [ -s "$OUT" ]; then
  echo "$OUT"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || { say "making the root needs root (mmdebstrap)"; exit 1; }
if ! command -v mmdebstrap >/dev/null 2>&1; then
  say "installing mmdebstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
fi
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -s "$f" ] && grep -qE '^[[:space:]]*(deb |Types:)' "$f" && sources+=("$f")
done
[ ${#sources[@]} -gt 0 ] || { say "no apt sources found under /etc/apt"; exit 1; }
aptopts=()
while IFS= read -r line; do aptopts+=(--aptopt="$line"); done < <(
  cat /etc/apt/apt.conf.d/* 2>/dev/null | grep -E '^[[:space:]]*Acquire::[A-Za-z-]+(::[A-Za-z-]+)*[[:space:]]+"[^"]*";[[:space:]]*$' || true)

say "mmdebstrap $SUITE (minbase + iproute2) -> $OUT"
# mmdebstrap picks the output format from the name: keep ".tar" at the end.
tmp="${OUT%.tar}.tmp$$.tar"
trap 'rm -f "$tmp"' EXIT
mmdebstrap --quiet --variant=minbase --include=iproute2 "${aptopts[@]}" \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  "$SUITE" "$tmp" "${sources[@]}"
mv "$tmp" "$OUT"
echo "$OUT"
