/**
 * The node's HTTP API, served on the local control socket and (optionally) on the
 * management listener behind a bearer token. Routes read state through the small NodeView
 * interface, so the API never reaches into the datapath's internals.
 *
 * Every route has a JSON schema (schemas.ts): fastify validates requests with it and
 * @fastify/swagger turns the same schemas into the OpenAPI document at /v1/openapi.json.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyBaseLogger } from 'fastify';
import { mkdir, unlink, chmod } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { registerClusterRoutes, type ClusterView } from './cluster-routes.js';
import { accessOf, bearerAuth } from './auth.js';
import { registerRulesetRoutes, type RulesetView } from './ruleset-routes.js';
import swagger from '@fastify/swagger';
import type { ServerResponse } from 'node:http';
import type { Server as TlsServer } from 'node:tls';
import { routeSchema } from './schemas.js';
import { registerControlRoutes, registerTapRoutes, eventsHandler, type ControlView } from './control-routes.js';
import type { EventBus } from './event-bus.js';
import { StreamLimit } from './stream-limit.js';
import { buildInfo, type BuildInfo } from '../build-info.js';
import { registerConsole, isConsolePath } from '../../console/index.js';

export interface NodeStatus {
  node: string;
  /** What the node runs (node/build-info.ts); absent from nodes older than 0.1.0's version report. */
  version?: BuildInfo;
  role: string;
  vrrp?: {
    state: string; priority: number; configuredPriority: number; inSync: boolean; master?: { address: string; priority: number }; counters: Record<string, number>;
    /** Every VRRP group (vrrp.groups); the fields above are the first group's. Absent from older nodes. */
    groups?: { name: string; vrid: number; state: string; priority: number; configuredPriority: number; master?: { address: string; priority: number }; vips: string[] }[];
  };
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
  /** The node-wide event bus behind GET /v1/events; modules publish on it (ruleset-dist too). */
  events?: EventBus;
  /** Connection table, cluster view and drills. */
  control?: Omit<ControlView, 'events' | 'generation'>;
}

/** The API's version in the OpenAPI document (bump on incompatible change of /v1). */
export const API_VERSION = '1.2.0';

interface ValidationItem {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: { missingProperty?: string; additionalProperty?: string };
}

/** RFC 6901 JSON pointer of the part of the request an ajv error is about, e.g. /body/holdSeconds. */
export function errorPointer(context: string, v: ValidationItem): string {
  const esc = (t: string): string => t.replace(/~/g, '~0').replace(/\//g, '~1');
  let p = `/${context}${v.instancePath ?? ''}`;
  const extra = v.params?.missingProperty ?? v.params?.additionalProperty;
  if (extra !== undefined) p += `/${esc(extra)}`;
  return p;
}

interface ListenerTls {
  cert: Buffer;
  key: Buffer;
  clientCa?: Buffer;
}

/** The TLS options of a listener: mutual TLS when there is a client CA. */
function tlsOptions(t: ListenerTls): { cert: Buffer; key: Buffer; ca?: Buffer; requestCert?: boolean; rejectUnauthorized?: boolean } {
  return { cert: t.cert, key: t.key, ...(t.clientCa ? { ca: t.clientCa, requestCert: true, rejectUnauthorized: true } : {}) };
}

/** Who may call a listener and how much it serves. */
export interface ListenerOptions {
  /** Bearer token for every route but /v1/health (absent: none, the control socket). */
  token?: string;
  /** A second token that may only read GET /metrics (with `token` only). */
  metricsToken?: string;
  /** A token that may read everything and change nothing (with `token` only). */
  viewToken?: string;
  /** Concurrent event streams (default: a StreamLimit of DEFAULT_MAX_EVENT_STREAMS). */
  streams?: StreamLimit;
  /** Largest request body in bytes (Fastify's default, 1 MiB, when absent). */
  bodyLimit?: number;
  /**
   * Serve HTTPS with this certificate (chain) and key (PEM); replace it with setListenerTls.
   * With clientCa, mutual TLS: a client without a certificate that chains to it fails the
   * handshake, before any HTTP (the bearer token is still asked for after it).
   */
  tls?: ListenerTls;
}

/** The node's routes on a fresh Fastify instance; with a token, every route but health needs it. */
export async function buildApp(view: NodeView, log: Logger, o: ListenerOptions = {}): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: log.child({ component: 'api' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // Unknown fields are an error naming the field, not silently dropped.
    // allowUnionTypes: `ops` is a string, an array or an object (ruleset transactions and checks).
    ajv: { customOptions: { removeAdditional: false, allowUnionTypes: true } },
    ...(o.bodyLimit !== undefined ? { bodyLimit: o.bodyLimit } : {}),
    ...(o.tls ? { https: tlsOptions(o.tls) } : {}),
  }) as unknown as FastifyInstance;
  if (o.token !== undefined) app.addHook('onRequest', bearerAuth({ token: o.token, metricsToken: o.metricsToken, viewToken: o.viewToken }, isConsolePath));
  const streamLimit = o.streams ?? new StreamLimit();
  app.setErrorHandler((err: Error & { validation?: ValidationItem[]; validationContext?: string; statusCode?: number }, _req, reply) => {
    if (err.validation && err.validation.length > 0) {
      const v = err.validation[0]!;
      const field = errorPointer(err.validationContext ?? 'body', v);
      return reply.code(400).send({ error: 'bad_request', message: `${field}: ${v.message ?? 'invalid'}`, field, errors: err.validation.map((x) => ({ field: errorPointer(err.validationContext ?? 'body', x), message: x.message })) });
    }
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    // 503: a part of the node is down (the datapath thread: DatapathDownError) and the node
    // is failing stop; the reason says which part and why.
    if (status === 503) return reply.code(503).send({ error: 'unavailable', message: err.message, reason: (err as { reason?: string }).reason ?? err.message });
    if (status >= 500) reply.log.error({ err: err.message }, 'api handler failed');
    // Fastify's own 4xx (e.g. a body that is not JSON): keep its message.
    return reply.code(status).send({ error: status >= 500 ? 'internal' : 'bad_request', message: err.message });
  });
  // Schemas by method and URL (also for the ruleset routes registered elsewhere).
  const streams = new Set<ServerResponse>();
  const control: ControlView = { ...view.control, events: view.events, generation: () => view.ruleset?.generation() ?? 0 };
  app.addHook('onRoute', (r) => {
    for (const m of Array.isArray(r.method) ? r.method : [r.method]) {
      const schema = routeSchema(m, r.url);
      if (schema && !r.schema) r.schema = schema;
    }
  });
  app.addHook('preClose', (done) => {
    // Open event streams would keep close() waiting forever: end them first.
    for (const s of streams) s.end();
    streams.clear();
    done();
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'hafw node API', version: API_VERSION, description: 'Control API of one hafw firewall node (control socket and management listener). See docs/api.md.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'api.tokenFile; only on the management listener (the control socket is protected by its file mode)' } } },
      security: [{ bearer: [] }],
    },
  });
  app.get('/v1/openapi.json', async () => app.swagger());
  app.get('/v1/health', async () => ({ ok: true }));
  app.get('/v1/status', async () => view.status());
  app.get('/v1/version', async () => ({ ...buildInfo(), api: API_VERSION }));
  // What the caller's credential may do, so a client (the console) can hide what it may not.
  app.get('/v1/access', async (req) => ({ access: accessOf(req) }));
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', view.metrics.contentType);
    const extra = view.extraMetrics ? await view.extraMetrics().catch(() => []) : [];
    if (extra.length === 0) return view.metrics.metrics();
    // Worker threads keep their own registries: merge their JSON with ours (DESIGN §8).
    return AggregatorRegistry.aggregate([await view.metrics.getMetricsAsJSON(), ...(extra as never[])]).metrics();
  });
  if (view.cluster) registerClusterRoutes(app, view.cluster);
  registerControlRoutes(app, control);
  // One GET /v1/events: the node-wide bus when there is one (it carries the same `ruleset`
  // events), else the rule engine's own ruleset-only stream.
  registerRulesetRoutes(app, view.ruleset, { eventStream: !view.events, streamLimit });
  if (view.events) app.get('/v1/events', eventsHandler(control, streams, streamLimit));
  registerTapRoutes(app, control, streams, streamLimit);
  // The web console (console/): GET / and its files, without a token; its API calls carry one.
  registerConsole(app);
  await app.ready();
  return app;
}

/** The local control socket: its file mode (0600, root) is the access control. */
export async function startControlServer(view: NodeView, socketPath: string, log: Logger, opts: Omit<ListenerOptions, 'token' | 'metricsToken' | 'viewToken'> = {}): Promise<FastifyInstance> {
  const app = await buildApp(view, log, opts);
  await mkdir(path.dirname(socketPath), { recursive: true, mode: 0o700 });
  // A socket file left by a killed node would make listen fail with EADDRINUSE.
  await unlink(socketPath).catch(() => undefined);
  await app.listen({ path: socketPath });
  await chmod(socketPath, 0o600);
  return app;
}

/**
 * The management listener (TCP, loopback or a management address): the same routes as the
 * control socket, each but /v1/health behind a bearer token — for the remote CLI
 * (`hafw --url`), automation, GUIs and Prometheus (with the metrics token). With `tls` it
 * serves HTTPS (config.ts refuses plain HTTP off loopback unless api.allowPlainHttp).
 */
export async function startManagementServer(view: NodeView, host: string, port: number, opts: ListenerOptions & { token: string }, log: Logger): Promise<FastifyInstance> {
  const app = await buildApp(view, log, opts);
  await app.listen({ host, port });
  return app;
}

/**
 * New certificate, key and client CA for a listener started with `tls` (SIGHUP): connections already
 * open keep the old one, the next handshake gets the new one; the listener never closes.
 * Throws (and changes nothing) when the pair is unusable.
 */
export function setListenerTls(app: FastifyInstance, pair: ListenerTls): void {
  const server = app.server as unknown as Partial<TlsServer> & { requestCert?: boolean };
  if (typeof server.setSecureContext !== 'function') throw new Error('the management listener was started without TLS; a restart is needed to turn it on');
  // Asking for client certificates is the server's setting, not the context's: switching
  // mutual TLS on or off takes a restart (the config is read at start only anyway).
  if (Boolean(server.requestCert) !== Boolean(pair.clientCa)) throw new Error(`the management listener was started ${server.requestCert ? 'with' : 'without'} a client CA; a restart is needed to change that`);
  // The client CA is part of the context: a renewed CA file takes effect with the certificate.
  server.setSecureContext({ cert: pair.cert, key: pair.key, ...(pair.clientCa ? { ca: pair.clientCa } : {}) });
}

export async function stopControlServer(app: FastifyInstance, socketPath: string): Promise<void> {
  await app.close();
  await unlink(socketPath).catch(() => undefined);
}
