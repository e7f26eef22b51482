#!/usr/bin/env bash
# Checks for the system tools hafw's lab, tests, demo and benches use, and installs the
# missing ones from Debian's packages when run as root with apt-get. Otherwise it says
# exactly what to install. Safe to run again: it only installs what is missing.
set -euo pipefail

# tool -> Debian package
declare -A PKG=(
  [ip]=iproute2 [tc]=iproute2 [ping]=iputils-ping [iperf3]=iperf3 [nft]=nftables
  [tcpdump]=tcpdump [keepalived]=keepalived [conntrackd]=conntrackd [conntrack]=conntrack [ps]=procps [sysctl]=procps [cc]=gcc [make]=make
  [chromium]=chromium
)
# --browser adds the headless browser the console tests drive (the demo does not need it).
base=(ip tc ping iperf3 nft tcpdump keepalived conntrackd conntrack ps sysctl cc make)
wanted=()
for a in "$@"; do
  if [ "$a" = --browser ]; then wanted+=("${base[@]}" chromium); else wanted+=("$a"); fi
done
[ ${#wanted[@]} -gt 0 ] || wanted=("${base[@]}")

missing=()
for tool in "${wanted[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${PKG[$tool]:-$tool}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "hafw: installing system packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # iperf3 asks whether to start a daemon; we never want one.
  echo "iperf3 iperf3/start_daemon boolean false" | debconf-set-selections 2>/dev/null || true
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
echo "hafw: missing system packages: ${missing[*]}" >&2
echo "      install them as root: apt-get install -y ${missing[*]}" >&2
exit 1
