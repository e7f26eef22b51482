/**
 * The node's HTTP API. For now it serves the local control socket; the management listener
 * with bearer tokens and the rest of the routes arrive with the control-plane work. Routes
 * read state through the small NodeView interface, so the API never reaches into the
 * datapath's internals.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyBaseLogger } from 'fastify';
import { mkdir, unlink, chmod } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { registerClusterRoutes, type ClusterView } from './cluster-routes.js';
import { bearerAuth } from './auth.js';
import { registerRulesetRoutes, type RulesetView } from './ruleset-routes.js';

export interface NodeStatus {
  node: string;
  role: string;
  vrrp?: { state: string; priority: number; configuredPriority: number; inSync: boolean; master?: { address: string; priority: number }; counters: Record<string, number> };
  pid: number;
  uptimeSeconds: number;
  ruleset?: { file: string | null; generation: number; tables: number; chains: number; rules: number; sets: number };
  conntrack?: { enabled: boolean; maxEntries: number; tcpLoose: boolean };
  sync?: { inSync: boolean; nodeId: number };
  datapath: {
    tun: string;
    offloads: boolean;
    vnetHdrLen: number;
    counters: Record<string, number>;
    native: Record<string, number>;
  };
}

export interface NodeView {
  status(): NodeStatus;
  metrics: Registry;
  /** The rule engine (list, transactions, events); absent: those routes answer 404. */
  ruleset?: RulesetView;
  /** State sync and the connection table. */
  cluster?: ClusterView;
  /** Extra prom-client JSON metrics (e.g. the sync worker's) merged into /metrics. */
  extraMetrics?: () => Promise<unknown[]>;
}

/** The node's routes on a fresh Fastify instance; with `token`, every route but health needs it. */
function buildApp(view: NodeView, log: Logger, token?: string): FastifyInstance {
  const app: FastifyInstance = Fastify({ loggerInstance: log.child({ component: 'api' }) as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) });
  if (token !== undefined) app.addHook('onRequest', bearerAuth(token));
  app.get('/v1/health', async () => ({ ok: true }));
  app.get('/v1/status', async () => view.status());
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', view.metrics.contentType);
    const extra = view.extraMetrics ? await view.extraMetrics().catch(() => []) : [];
    if (extra.length === 0) return view.metrics.metrics();
    // Worker threads keep their own registries: merge their JSON with ours (DESIGN §8).
    return AggregatorRegistry.aggregate([await view.metrics.getMetricsAsJSON(), ...(extra as never[])]).metrics();
  });
  if (view.cluster) registerClusterRoutes(app, view.cluster);
  registerRulesetRoutes(app, view.ruleset);
  return app;
}

/** The local control socket: its file mode (0600, root) is the access control. */
export async function startControlServer(view: NodeView, socketPath: string, log: Logger): Promise<FastifyInstance> {
  const app = buildApp(view, log);
  await mkdir(path.dirname(socketPath), { recursive: true, mode: 0o700 });
  // A socket file left by a killed node would make listen fail with EADDRINUSE.
  await unlink(socketPath).catch(() => undefined);
  await app.listen({ path: socketPath });
  await chmod(socketPath, 0o600);
  return app;
}

/**
 * The management listener (TCP, loopback or a management address): the same routes as the
 * control socket, each but /v1/health behind a bearer token — for automation, GUIs and
 * Prometheus (`authorization: {credentials_file: ...}` in its scrape config).
 */
export async function startManagementServer(view: NodeView, host: string, port: number, token: string, log: Logger): Promise<FastifyInstance> {
  const app = buildApp(view, log, token);
  await app.listen({ host, port });
  return app;
}

export async function stopControlServer(app: FastifyInstance, socketPath: string): Promise<void> {
  await app.close();
  await unlink(socketPath).catch(() => undefined);
}
