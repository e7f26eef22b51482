# hafw firewall node. Multi-stage:
#   build    toolchain (python3, make, g++) + npm ci: native addon (node-gyp) and TypeScript
#   runtime  the official Node 20 slim image + iproute2, the built app, `hafw` on PATH
#
#   docker build -t hafw .        (scripts/docker-base-image.sh provides the base image
#                                  locally when no registry is reachable)
# The node needs CAP_NET_ADMIN and /dev/net/tun; see docker-compose.yml and
# docs/deploy-compose.md.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# node-gyp compiles against the image's own Node headers instead of downloading them.
ENV npm_config_nodedir=/usr/local \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
# Dependencies first (cached until package*.json change). --ignore-scripts: the package's
# own install/prepare scripts need sources that are not copied yet.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
# Install scripts: the dependencies' and our native addon's (node-gyp rebuild); cached
# until the addon's sources change. Then the TypeScript.
COPY binding.gyp ./
COPY node/native ./node/native
RUN npm rebuild && test -f build/Release/hafw_native.node
COPY . .
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts
# The image ships the node and its CLI, not the lab: the compiled lab, benchmarks, fuzzers
# and tests go, except the two traffic tools the compose stack's client and server run
# (docker-compose.yml, docs/deploy-compose.md). No shipped module imports what goes
# (node/cli/shipped-imports.test.ts); `hafw lab`, `demo` and the lab drill say where they run.
RUN mkdir /tmp/keep \
 && mv dist/cluster-tests/tools/traffic.js dist/cluster-tests/tools/drill-agent.js /tmp/keep/ \
 && rm -rf dist/cluster-tests dist/bench dist/fuzz \
 && find dist \( -name '*.test.js' -o -name '*.test.js.map' \) -delete \
 && mkdir -p dist/cluster-tests/tools && mv /tmp/keep/* dist/cluster-tests/tools/

FROM ${NODE_IMAGE} AS runtime
# iproute2: the node's kernel plumbing (ip rule/route, VIPs); iputils-ping, iputils-arping
# and procps: for operators looking into a container.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 iputils-ping iputils-arping procps \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/hafw
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/build/Release/hafw_native.node ./build/Release/hafw_native.node
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
COPY --from=build /src/console/web ./console/web
COPY deploy/docker-entrypoint.sh /usr/local/bin/hafw-entrypoint
RUN ln -s /opt/hafw/bin/hafw.js /usr/local/bin/hafw \
 && chmod 755 /usr/local/bin/hafw-entrypoint /opt/hafw/bin/hafw.js \
 && mkdir -p /etc/hafw /run/hafw
# The control socket lives in /run/hafw (one per network namespace, found by `hafw status`).
ENV HAFW_RUN_DIR=/run/hafw
# hafw-entrypoint names the interfaces (HAFW_IFNAMES), sets the default route
# (HAFW_DEFAULT_ROUTE), then runs `hafw "$@"`.
ENTRYPOINT ["hafw-entrypoint"]
CMD ["node", "--config", "/etc/hafw/hafw.yaml"]
STOPSIGNAL SIGTERM
