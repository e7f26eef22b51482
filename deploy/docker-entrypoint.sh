#!/usr/bin/env bash
# Entrypoint of the hafw image (installed as /usr/local/bin/hafw-entrypoint).
#
# Docker names a container's interfaces eth0, eth1, ... in an order that depends on the
# engine and compose version, not on the compose file. hafw's configs (and the lab's) say
# `lan`, `wan`, `sync`, so this script renames each interface after the subnet it sits on
# before the node starts. Then it sets the container's default route, optionally adds static
# addresses, and runs `hafw "$@"` (default: hafw node --config /etc/hafw/hafw.yaml).
#
# Environment (all optional):
#   HAFW_IFNAMES       "lan=198.18.1.0/24 wan=198.18.2.0/24 sync=198.18.3.0/24":
#                      rename the interface holding an IPv4 address in SUBNET to NAME
#   HAFW_DEFAULT_ROUTE "none": delete the default route Docker installs (firewalls: nothing
#                      may leave through the host); an address: default route via it
#                      (demo client/server: via the VIP)
#   HAFW_STATIC_ADDRS  "lan=198.18.1.1/24 wan=198.18.2.1/24": add these addresses (and send
#                      gratuitous ARP). TEMPORARY way to hold VIPs on a node without VRRP;
#                      with a `vrrp:` section the node moves the VIPs itself.
#   HAFW_NET_SYSCTLS_RW "1": make /proc/sys/net writable (Docker mounts /proc/sys read-only)
#                      for the node's own sysctl writes, then drop CAP_SYS_ADMIN before
#                      starting it. Needs cap_add SYS_ADMIN. TEMPORARY, see docker-compose.yml.
#   HAFW_SYNC_KEY_FILE path of the cluster's shared sync key: created (32 random bytes, hex)
#                      when missing, atomically, so two nodes starting together agree
#   HAFW_API_TOKEN_FILE path of the management API's bearer token: created the same way
#   HAFW_METRICS_TOKEN_FILE path of the read-only metrics token (api.metricsTokenFile,
#                      for Prometheus): created the same way
#   HAFW_EXEC          "1": run "$@" as a plain command instead of `hafw "$@"` (demo hosts)
set -euo pipefail

say() { echo "hafw-entrypoint: $*" >&2; }

ip4_to_int() {
  local IFS=. a b c d
  read -r a b c d <<<"$1"
  echo $(((a << 24) | (b << 16) | (c << 8) | d))
}

# in_subnet ADDR NET/LEN
in_subnet() {
  local net=${2%/*} len=${2#*/} mask
  mask=$(((0xffffffff << (32 - len)) & 0xffffffff))
  [ $(($(ip4_to_int "$1") & mask)) -eq $(($(ip4_to_int "$net") & mask)) ]
}

rename_interfaces() {
  local spec name subnet line ifname addr found
  for spec in ${HAFW_IFNAMES:-}; do
    name=${spec%%=*}
    subnet=${spec#*=}
    found=
    # "2: eth0    inet 198.18.1.2/24 brd ... scope global eth0"
    while read -r line; do
      ifname=$(awk '{print $2}' <<<"$line")
      ifname=${ifname%@*}
      addr=$(awk '{print $4}' <<<"$line")
      addr=${addr%/*}
      if in_subnet "$addr" "$subnet"; then found=$ifname; break; fi
    done < <(ip -o -4 addr show)
    if [ -z "$found" ]; then
      say "no interface has an address in $subnet (for $name); interfaces:"
      ip -br addr >&2
      exit 1
    fi
    if [ "$found" != "$name" ]; then
      # A link must be down to be renamed; its connected route comes back with it.
      ip link set dev "$found" down
      ip link set dev "$found" name "$name"
      ip link set dev "$name" up
      say "interface $found ($subnet) is now $name"
    fi
  done
}

set_default_route() {
  case "${HAFW_DEFAULT_ROUTE:-}" in
    '') ;;
    none)
      ip -4 route del default 2>/dev/null || true
      ip -6 route del default 2>/dev/null || true
      ;;
    *)
      ip route replace default via "$HAFW_DEFAULT_ROUTE"
      say "default route via $HAFW_DEFAULT_ROUTE"
      ;;
  esac
}

add_static_addrs() {
  local spec dev cidr
  for spec in ${HAFW_STATIC_ADDRS:-}; do
    dev=${spec%%=*}
    cidr=${spec#*=}
    ip addr replace "$cidr" dev "$dev"
    # Tell the segment at once (RFC 5227 ARP announcement) instead of waiting for ARP.
    arping -q -U -c 2 -I "$dev" "${cidr%/*}" >/dev/null 2>&1 || true
    say "static address $cidr on $dev (temporary: VRRP moves VIPs once configured)"
  done
}

# A secret file shared by the pair (the sync key, the API token): created when missing,
# atomically, so two nodes starting together agree.
ensure_secret_file() {
  local file=$1 what=$2 tmp
  [ -n "$file" ] || return 0
  [ -s "$file" ] && return 0
  mkdir -p "$(dirname "$file")"
  tmp=$(mktemp "$file.XXXXXX")
  chmod 600 "$tmp"
  od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$tmp"
  echo >>"$tmp"
  # link(2) fails if the name exists: the first node to get here wins, the other uses its file.
  if ln "$tmp" "$file" 2>/dev/null; then say "created the $what $file"; fi
  rm -f "$tmp"
}

# Sets DROP_CAPS when SYS_ADMIN was only needed here.
writable_net_sysctls() {
  DROP_CAPS=()
  [ "${HAFW_NET_SYSCTLS_RW:-0}" = 1 ] || return 0
  if ! ( : >>/proc/sys/net/ipv4/ip_forward ) 2>/dev/null; then
    # net.* sysctls belong to this container's network namespace; the rest of /proc/sys
    # (kernel.*, vm.*: the host's) stays read-only.
    if mount --bind /proc/sys/net /proc/sys/net && mount -o remount,bind,rw /proc/sys/net; then
      say "/proc/sys/net is writable for the node"
    else
      say "cannot make /proc/sys/net writable (needs cap_add SYS_ADMIN); the node may fail to set sysctls"
    fi
  fi
  # The node never needs SYS_ADMIN: remove it from the bounding set, so the exec'd process
  # (root) does not get it back.
  if setpriv --dump 2>/dev/null | grep -qi 'bounding set:.*sys_admin'; then
    DROP_CAPS=(setpriv --bounding-set=-sys_admin --)
  fi
}

# The unit test of in_subnet sources this file with HAFW_ENTRYPOINT_FUNCTIONS_ONLY=1.
if [ "${HAFW_ENTRYPOINT_FUNCTIONS_ONLY:-0}" = 1 ]; then return 0; fi

rename_interfaces
set_default_route
add_static_addrs
ensure_secret_file "${HAFW_SYNC_KEY_FILE:-}" 'cluster sync key'
ensure_secret_file "${HAFW_API_TOKEN_FILE:-}" 'API bearer token'
ensure_secret_file "${HAFW_METRICS_TOKEN_FILE:-}" 'metrics token'
writable_net_sysctls

if [ "${HAFW_EXEC:-0}" = 1 ]; then
  exec "${DROP_CAPS[@]}" "$@"
fi
exec "${DROP_CAPS[@]}" hafw "$@"
