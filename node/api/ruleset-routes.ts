/**
 * The ruleset part of the node API: list the running ruleset, apply transactions, stream
 * change events, describe the modules. Routes reach the rule engine only through the small
 * RulesetView the daemon implements, so the API never touches the datapath.
 *
 *   GET  /v1/ruleset?format=nft|json[&handles=1]   nft text (text/plain) or nft -j JSON
 *   POST /v1/ruleset/transactions {ops, baseGeneration?}
 *        ops: libnftables JSON commands (an array, or {"nftables": [...]}) or nft text
 *        ('add rule inet t c tcp dport 22 accept', one command a line). All or nothing:
 *        200 {generation, changes, ms}; 400 {message, errors:[{line,col,message}]} for a
 *        bad batch; 409 when baseGeneration is not the current generation.
 *   POST /v1/ruleset/check {ops, baseGeneration?}
 *        the same batch checked on a copy of the running ruleset, nothing applied:
 *        200 {ok, generation, errors:[{line,col,message}], diff, changes} (the rule builder)
 *   GET  /v1/events     Server-Sent Events, one `ruleset` event per committed transaction
 *                       (data: {"generation", "changes"}), like `nft monitor`
 *   GET  /v1/schema[?name=NAME]   the registered matches, statements and types
 *
 * Cluster-wide versions (docs/ruleset-dist.md), when the node distributes its ruleset:
 *   GET  /v1/ruleset/version         {version, hash, ready, drift, writable, master, nodes[]}
 *   GET  /v1/ruleset/history         {versions: [{version, hash, time, origin, summary}]}
 *   GET  /v1/ruleset/versions/{v}    {version, hash, time, origin, summary, text}
 *   POST /v1/ruleset/rollback {version}   a NEW version with version v's text
 *   PUT  /v1/ruleset {text}          the whole ruleset, atomically (the next version)
 * Writes on a node that is not the writer (a VRRP backup hearing its master) get 409
 * naming the master; transactions answer with the version they became.
 */
import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import { describeModules } from '../ruleset/schema.js';
import type { ChangeEvent, ErrorItem } from '../ruleset/index.js';
import { serveUntilClosed, StreamLimit } from './stream-limit.js';

export interface RulesetTxResult {
  generation: number;
  changes: unknown[];
  ms: number;
  /** The cluster version this transaction became (with distribution). */
  version?: number;
  /** What the ruleset now says that this node cannot make true, and lock-out risks. */
  warnings?: string[];
}

/** POST /v1/ruleset/check: what a batch would do, or why it is refused. */
export interface RulesetCheckResult {
  ok: boolean;
  generation: number;
  errors: ErrorItem[];
  /** Unified diff of the nft listing before and after; '' when nothing would change or on errors. */
  diff: string;
  changes: number;
}

/** One version of the cluster ruleset, as the history lists it. */
export interface RulesetVersionMeta {
  version: number;
  hash: string;
  time: number;
  origin: string;
  summary: string;
}

/** Cluster-wide versions, history and rollback (node/daemon/ruleset-cluster.ts). */
export interface RulesetDistView {
  status(): object;
  history(): RulesetVersionMeta[];
  version(v: number): (RulesetVersionMeta & { text: string }) | undefined;
  /** Rejects with RulesetApiError (404 unknown version, 409 not the writer). */
  rollback(v: number): Promise<{ version: number; from: number }>;
}

/** A refused transaction: HTTP status, and the positioned errors when there are any. */
export class RulesetApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly errors: ErrorItem[] = [],
  ) {
    super(message);
  }
}

export interface RulesetView {
  generation(): number;
  listText(handles: boolean): string | Promise<string>;
  listJson(): unknown;
  /** Validates and commits on the control engine, then the datapath; rejects with RulesetApiError. */
  transaction(ops: unknown, baseGeneration?: number): Promise<RulesetTxResult>;
  /** Calls `listener` after each commit has reached the datapath; returns the unsubscribe. */
  onChange(listener: (ev: ChangeEvent) => void): () => void;
  /** Checks a batch on a copy of the running ruleset (nothing applied); rejects with RulesetApiError (409 stale base). */
  check?(ops: unknown, baseGeneration?: number): Promise<RulesetCheckResult>;
  /** `list|reset counters|quotas|limits ...`, `list meters ...`: nft's output (`json`: nft -j's, meters only); rejects with RulesetApiError. */
  objectCommand?(text: string, json?: boolean): Promise<string>;
  /** Replaces the whole ruleset atomically; rejects with RulesetApiError. */
  replace?(text: string): Promise<{ generation: number; version?: number }>;
  /** Present when the node distributes its ruleset across the cluster. */
  readonly dist?: RulesetDistView;
}

const ERROR_SCHEMA = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' }, errors: { type: 'array' }, master: { type: 'string' } },
  required: ['message'],
} as const;
const VERSION_META = {
  type: 'object',
  properties: { version: { type: 'integer' }, hash: { type: 'string' }, time: { type: 'number', description: 'ms since the epoch' }, origin: { type: 'string' }, summary: { type: 'string' } },
  required: ['version', 'hash', 'time', 'origin', 'summary'],
} as const;
const NODE_VERSION = {
  type: 'object',
  properties: {
    name: { type: 'string' }, nodeId: { type: 'integer' }, self: { type: 'boolean' }, version: { type: 'integer' }, hash: { type: 'string' },
    role: { type: 'string' }, ready: { type: 'boolean' }, drift: { type: 'boolean' }, ageMs: { type: 'number' },
  },
} as const;
/** Fastify schemas of the distribution routes (the OpenAPI document is generated from them). */
const RULESET_DIST_SCHEMAS = {
  version: {
    summary: 'Cluster ruleset version of this node, its hash, drift, and the versions heard from every peer',
    tags: ['ruleset'],
    response: {
      200: {
        type: 'object',
        properties: {
          version: { type: 'integer' }, hash: { type: 'string' }, ready: { type: 'boolean' }, drift: { type: 'boolean' }, driftReason: { type: 'string' },
          writable: { type: 'boolean' }, master: { type: 'string' }, nodes: { type: 'array', items: NODE_VERSION },
        },
        required: ['version', 'hash', 'ready', 'drift', 'writable', 'nodes'],
      },
      404: ERROR_SCHEMA,
    },
  },
  history: {
    summary: 'The versions kept (ruleset.historySize), oldest first',
    tags: ['ruleset'],
    response: { 200: { type: 'object', properties: { versions: { type: 'array', items: VERSION_META } }, required: ['versions'] }, 404: ERROR_SCHEMA },
  },
  versionText: {
    summary: 'One kept version with its canonical text',
    tags: ['ruleset'],
    params: { type: 'object', properties: { v: { type: 'integer', minimum: 0 } }, required: ['v'] },
    response: { 200: { type: 'object', properties: { ...VERSION_META.properties, text: { type: 'string' } }, required: [...VERSION_META.required, 'text'] }, 404: ERROR_SCHEMA },
  },
  rollback: {
    summary: 'Make a NEW cluster version whose content is the text of an earlier version',
    tags: ['ruleset'],
    body: { type: 'object', properties: { version: { type: 'integer', minimum: 0 } }, required: ['version'], additionalProperties: false },
    response: { 200: { type: 'object', properties: { version: { type: 'integer' }, from: { type: 'integer' } }, required: ['version', 'from'] }, 404: ERROR_SCHEMA, 409: ERROR_SCHEMA },
  },
  replace: {
    summary: 'Replace the whole ruleset atomically (nft text or libnftables JSON text); the next cluster version',
    tags: ['ruleset'],
    body: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'], additionalProperties: false },
    response: {
      200: { type: 'object', properties: { generation: { type: 'integer' }, version: { type: 'integer' }, warnings: { type: 'array', items: { type: 'string' } } }, required: ['generation'] },
      400: ERROR_SCHEMA,
      409: ERROR_SCHEMA,
    },
  },
} as const;

function sendApiError(reply: { code(n: number): { send(b: unknown): unknown } }, err: unknown): unknown {
  if (err instanceof RulesetApiError) return reply.code(err.status).send({ error: err.status === 409 ? 'conflict' : err.status === 404 ? 'not_found' : err.status === 413 ? 'too_large' : 'bad_request', message: err.message, errors: err.errors });
  throw err;
}

/** `eventStream: false` when the node-wide event bus serves GET /v1/events instead. */
export function registerRulesetRoutes(app: FastifyInstance, view: RulesetView | undefined, opts: { eventStream?: boolean; streamLimit?: StreamLimit } = {}): void {
  app.get('/v1/schema', async (req, reply) => {
    const name = (req.query as { name?: string }).name;
    const mods = describeModules(name || undefined);
    if (name && mods.length === 0) return reply.code(404).send({ message: `no match, statement or type named '${name}'` });
    return mods;
  });
  if (!view) return;

  app.get('/v1/ruleset', async (req, reply) => {
    const q = req.query as { format?: string; handles?: string };
    const format = q.format ?? 'nft';
    if (format === 'json') return view.listJson();
    if (format !== 'nft') return reply.code(400).send({ message: `format must be nft or json, not '${format}'` });
    reply.header('content-type', 'text/plain; charset=utf-8');
    return view.listText(q.handles === '1' || q.handles === 'true');
  });

  if (view.objectCommand) {
    const run = view.objectCommand.bind(view);
    // Not a transaction: reads or zeroes named objects' live values (nft's list/reset counters).
    app.post('/v1/ruleset/objects', async (req, reply) => {
      const body = req.body as { command?: unknown; json?: unknown } | undefined;
      if (!body || typeof body !== 'object' || typeof body.command !== 'string' || (body.json !== undefined && typeof body.json !== 'boolean')) {
        return reply.code(400).send({ message: 'body must be {"command": "list|reset counters|quotas|limits ...", "json"?: true|false}', errors: [] });
      }
      try {
        // json: nft -j's output of `list meters` (a JSON text, sent as it is).
        const text = await run(body.command, body.json === true);
        reply.header('content-type', body.json === true ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8');
        return text;
      } catch (err) {
        if (err instanceof RulesetApiError) return reply.code(err.status).send({ message: err.message, errors: err.errors });
        throw err;
      }
    });
  }

  app.post('/v1/ruleset/transactions', async (req, reply) => {
    const body = req.body as { ops?: unknown; baseGeneration?: unknown } | undefined;
    if (!body || typeof body !== 'object' || body.ops === undefined) return reply.code(400).send({ message: 'body must be {"ops": [...] | "nft commands", "baseGeneration"?: N}', errors: [] });
    const ops = body.ops;
    const okShape = typeof ops === 'string' || Array.isArray(ops) || (typeof ops === 'object' && ops !== null && Array.isArray((ops as { nftables?: unknown }).nftables));
    if (!okShape) return reply.code(400).send({ message: 'ops must be an array of libnftables commands, {"nftables": [...]}, or nft text', errors: [] });
    const base = body.baseGeneration;
    if (base !== undefined && (typeof base !== 'number' || !Number.isInteger(base) || base < 0)) return reply.code(400).send({ message: 'baseGeneration must be a non-negative integer', errors: [] });
    try {
      return await view.transaction(ops, base as number | undefined);
    } catch (err) {
      if (err instanceof RulesetApiError) return reply.code(err.status).send({ message: err.message, errors: err.errors });
      throw err;
    }
  });

  if (view.check) {
    const check = view.check.bind(view);
    app.post('/v1/ruleset/check', async (req, reply) => {
      const body = req.body as { ops: unknown; baseGeneration?: number };
      const ops = body.ops;
      if (typeof ops === 'object' && ops !== null && !Array.isArray(ops) && !Array.isArray((ops as { nftables?: unknown }).nftables)) return reply.code(400).send({ message: 'ops must be an array of libnftables commands, {"nftables": [...]}, or nft text', errors: [] });
      try {
        return await check(ops, body.baseGeneration);
      } catch (err) {
        return sendApiError(reply, err);
      }
    });
  }

  if (view.replace) {
    const replace = view.replace.bind(view);
    app.put('/v1/ruleset', { schema: RULESET_DIST_SCHEMAS.replace }, async (req, reply) => {
      try {
        return await replace((req.body as { text: string }).text);
      } catch (err) {
        return sendApiError(reply, err);
      }
    });
  }
  registerDistRoutes(app, view);

  if (opts.eventStream === false) return;
  const streams = new Set<ServerResponse>();
  app.addHook('preClose', (done) => {
    // Open event streams would keep close() waiting forever: end them first.
    for (const s of streams) s.end();
    streams.clear();
    done();
  });
  const limit = opts.streamLimit ?? new StreamLimit();
  app.get('/v1/events', (_req, reply) => {
    if (!limit.admit(reply)) return reply;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    // The first comment names the generation the stream starts after, so a client can
    // list the ruleset and then apply events without a gap.
    res.write(`: generation ${view.generation()}\n\n`);
    const off = view.onChange((ev) => {
      res.write(`event: ruleset\nid: ${ev.generation}\ndata: ${JSON.stringify({ generation: ev.generation, changes: ev.changes })}\n\n`);
    });
    serveUntilClosed(res, streams, limit, off);
  });
}

function registerDistRoutes(app: FastifyInstance, view: RulesetView): void {
  const off = { error: 'not_found', message: 'ruleset distribution is off on this node (it needs sync; see docs/ruleset-dist.md)' };
  app.get('/v1/ruleset/version', { schema: RULESET_DIST_SCHEMAS.version }, async (_req, reply) => (view.dist ? view.dist.status() : reply.code(404).send(off)));
  app.get('/v1/ruleset/history', { schema: RULESET_DIST_SCHEMAS.history }, async (_req, reply) => (view.dist ? { versions: view.dist.history() } : reply.code(404).send(off)));
  app.get('/v1/ruleset/versions/:v', { schema: RULESET_DIST_SCHEMAS.versionText }, async (req, reply) => {
    if (!view.dist) return reply.code(404).send(off);
    const v = Number((req.params as { v: number | string }).v);
    const e = Number.isSafeInteger(v) ? view.dist.version(v) : undefined;
    return e ?? reply.code(404).send({ error: 'not_found', message: `version ${String((req.params as { v: unknown }).v)} is not in this node's history` });
  });
  app.post('/v1/ruleset/rollback', { schema: RULESET_DIST_SCHEMAS.rollback }, async (req, reply) => {
    if (!view.dist) return reply.code(404).send(off);
    try {
      return await view.dist.rollback((req.body as { version: number }).version);
    } catch (err) {
      return sendApiError(reply, err);
    }
  });
}

