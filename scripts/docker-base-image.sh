#!/usr/bin/env bash
# Ensures the base image the Dockerfile builds FROM exists in the local engine.
#
#   1. already there            -> nothing to do
#   2. `docker pull` works      -> the official image is used
#   3. no registry is reachable -> a stand-in with the same name is built here:
#      a Debian root file system made by mmdebstrap from THIS machine's own apt sources
#      (no mirror host is named in this repository), plus THIS machine's Node.js
#      installation (node, npm, corepack, the headers node-gyp needs) laid out like the
#      official image (/usr/local/bin/node, /usr/local/include/node), and the machine's
#      extra CA certificates and npm settings, so that apt-get and npm ci inside
#      `docker build` reach the same registries the host reaches.
#
# Usage: scripts/docker-base-image.sh [IMAGE]   (default: node:20-bookworm-slim)
# Env:   HAFW_BASE_IMAGE_REBUILD=1 rebuilds the local stand-in even when it exists.
set -euo pipefail

IMAGE=${1:-${HAFW_BASE_IMAGE:-node:20-bookworm-slim}}
SUITE=${HAFW_BASE_SUITE:-bookworm}
say() { echo "docker-base-image: $*" >&2; }

if [ "${HAFW_BASE_IMAGE_REBUILD:-0}" != 1 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  say "$IMAGE is present"
  exit 0
fi
if [ "${HAFW_BASE_IMAGE_REBUILD:-0}" != 1 ] && timeout 120 docker pull "$IMAGE" >/dev/null 2>&1; then
  say "pulled $IMAGE"
  exit 0
fi

say "cannot pull $IMAGE: building a local stand-in from this machine's Debian sources and Node.js"
[ "$(id -u)" -eq 0 ] || { say "building the stand-in needs root (mmdebstrap, docker import)"; exit 1; }

node_bin=$(command -v node) || { say "no node on this machine to copy into the image"; exit 1; }
node_bin=$(readlink -f "$node_bin")
node_prefix=$(dirname "$(dirname "$node_bin")")
node_major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
want_major=$(sed -nE 's/^node:([0-9]+).*/\1/p' <<<"$IMAGE")
if [ -n "$want_major" ] && [ "$node_major" != "$want_major" ]; then
  say "this machine has Node $node_major, but $IMAGE promises Node $want_major; refusing to fake it"
  exit 1
fi
[ -d "$node_prefix/lib/node_modules/npm" ] || { say "no npm under $node_prefix/lib/node_modules"; exit 1; }
[ -f "$node_prefix/include/node/node_api.h" ] || { say "no Node headers under $node_prefix/include/node (node-gyp needs them)"; exit 1; }

if ! command -v mmdebstrap >/dev/null 2>&1; then
  say "installing mmdebstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
fi

# The machine's own apt sources, in whichever format it keeps them.
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -s "$f" ] && grep -qE '^[[:space:]]*(deb |Types:)' "$f" && sources+=("$f")
done
[ ${#sources[@]} -gt 0 ] || { say "no apt sources found under /etc/apt"; exit 1; }
# The machine's Acquire:: settings (e.g. a frozen mirror needs Check-Valid-Until false);
# mmdebstrap also writes them into the image, so apt-get in the build stage uses them.
aptopts=()
while IFS= read -r line; do aptopts+=(--aptopt="$line"); done < <(
  cat /etc/apt/apt.conf.d/* 2>/dev/null | grep -E '^[[:space:]]*Acquire::[A-Za-z-]+(::[A-Za-z-]+)*[[:space:]]+"[^"]*";[[:space:]]*$' || true)

work=$(mktemp -d /var/tmp/hafw-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
root="$work/root"

say "mmdebstrap $SUITE (minbase) from ${sources[*]}"
mmdebstrap --quiet --variant=minbase --include=ca-certificates "${aptopts[@]}" \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  "$SUITE" "$root" "${sources[@]}"

say "adding Node $("$node_bin" --version) from $node_prefix"
mkdir -p "$root/usr/local/bin" "$root/usr/local/lib/node_modules" "$root/usr/local/include" "$root/usr/local/etc"
cp -a "$node_bin" "$root/usr/local/bin/node"
cp -a "$node_prefix/lib/node_modules/npm" "$root/usr/local/lib/node_modules/"
[ -d "$node_prefix/lib/node_modules/corepack" ] && cp -a "$node_prefix/lib/node_modules/corepack" "$root/usr/local/lib/node_modules/"
cp -a "$node_prefix/include/node" "$root/usr/local/include/"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
[ -d "$root/usr/local/lib/node_modules/corepack" ] && ln -sf ../lib/node_modules/corepack/dist/corepack.js "$root/usr/local/bin/corepack"
# The machine's extra CAs (e.g. one that its egress presents) and global npm settings.
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null 2>&1 || cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
fi
globalrc=$(npm config get globalconfig 2>/dev/null || true)
[ -n "$globalrc" ] && [ -f "$globalrc" ] && cp "$globalrc" "$root/usr/local/etc/npmrc"
# Like the official image: a `node` user with uid 1000.
chroot "$root" sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node' >/dev/null 2>&1 || true
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/tmp/* 2>/dev/null || true

say "importing as $IMAGE"
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$("$node_bin" -p process.versions.node)" \
  --change 'LABEL org.hafw.base-image=local-stand-in' \
  --change 'CMD ["node"]' \
  - "$IMAGE" >/dev/null
say "built $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%d MB", $1/1e6}'))"
