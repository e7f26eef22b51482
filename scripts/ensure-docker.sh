#!/usr/bin/env bash
# Makes sure a Docker engine and a compose tool are usable, for `npm run test:compose` and
# for operators following docs/deploy-compose.md on a Debian host:
#   - installs Debian's docker.io and docker-compose when `docker` / a compose tool is missing
#     (as root, with apt-get; otherwise says what to install);
#   - starts `dockerd` in the background when no engine answers (a machine without systemd,
#     e.g. CI), logging to $HAFW_DOCKERD_LOG, and waits until it answers.
# An engine that is already running is used as it is and never restarted.
# Safe to run again. Prints the compose command to use on its last line
# (`docker compose` when the v2 plugin is there, else `docker-compose`).
set -euo pipefail

DOCKERD_LOG=${HAFW_DOCKERD_LOG:-/var/log/hafw-dockerd.log}
# Written only when this script started dockerd, so that whoever needed the engine can stop
# exactly that process afterwards (npm run test:compose does).
DOCKERD_PIDFILE=${HAFW_DOCKERD_PIDFILE:-/run/hafw/dockerd.pid}
# Docker's own networks (docker0 and any network created without a subnet) are kept inside
# the benchmarking range 198.18.0.0/15 (RFC 2544), never a range that may be in use on the
# host's uplink. The compose stack's networks name their subnets explicitly (198.18.x.0/24).
DOCKER_BIP=${HAFW_DOCKER_BIP:-198.19.0.1/24}
DOCKER_POOL=${HAFW_DOCKER_POOL:-base=198.19.0.0/16,size=24}

say() { echo "ensure-docker: $*" >&2; }

compose_cmd() {
  if docker compose version >/dev/null 2>&1; then echo "docker compose"
  elif command -v docker-compose >/dev/null 2>&1; then echo "docker-compose"
  else return 1
  fi
}

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
compose_cmd >/dev/null 2>&1 || missing+=(docker-compose)
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "missing: ${missing[*]}; install them as root: apt-get install -y ${missing[*]}"
    exit 1
  fi
  say "installing ${missing[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" iptables >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  rm -f "$DOCKERD_PIDFILE"   # a stale one must never name a process to stop
  if [ "$(id -u)" -ne 0 ]; then
    say "no Docker engine answers and only root can start one (dockerd)"
    exit 1
  fi
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    say "starting docker.service"
    systemctl start docker || true
  fi
fi
if ! docker info >/dev/null 2>&1; then
  say "starting dockerd in the background (log: $DOCKERD_LOG)"
  # setsid: the engine must outlive this script and the test that called it.
  setsid dockerd --bip "$DOCKER_BIP" --default-address-pool "$DOCKER_POOL" >>"$DOCKERD_LOG" 2>&1 </dev/null &
  mkdir -p "$(dirname "$DOCKERD_PIDFILE")"
  echo $! >"$DOCKERD_PIDFILE"
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    say "dockerd did not answer within 60 s; last lines of $DOCKERD_LOG:"
    tail -n 20 "$DOCKERD_LOG" >&2 || true
    exit 1
  fi
fi
compose_cmd
