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
 *   GET  /v1/events     Server-Sent Events, one `ruleset` event per committed transaction
 *                       (data: {"generation", "changes"}), like `nft monitor`
 *   GET  /v1/schema[?name=NAME]   the registered matches, statements and types
 */
import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import { describeModules } from '../ruleset/schema.js';
import type { ChangeEvent, ErrorItem } from '../ruleset/index.js';

export interface RulesetTxResult {
  generation: number;
  changes: unknown[];
  ms: number;
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
  listText(handles: boolean): string;
  listJson(): unknown;
  /** Validates and commits on the control engine, then the datapath; rejects with RulesetApiError. */
  transaction(ops: unknown, baseGeneration?: number): Promise<RulesetTxResult>;
  /** Calls `listener` after each commit has reached the datapath; returns the unsubscribe. */
  onChange(listener: (ev: ChangeEvent) => void): () => void;
}

/** Comment lines keep idle proxies and sockets from timing the stream out. */
const KEEPALIVE_MS = 15000;

export function registerRulesetRoutes(app: FastifyInstance, view: RulesetView | undefined): void {
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

  const streams = new Set<ServerResponse>();
  app.addHook('preClose', (done) => {
    // Open event streams would keep close() waiting forever: end them first.
    for (const s of streams) s.end();
    streams.clear();
    done();
  });
  app.get('/v1/events', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    // The first comment names the generation the stream starts after, so a client can
    // list the ruleset and then apply events without a gap.
    res.write(`: generation ${view.generation()}\n\n`);
    streams.add(res);
    const off = view.onChange((ev) => {
      res.write(`event: ruleset\nid: ${ev.generation}\ndata: ${JSON.stringify({ generation: ev.generation, changes: ev.changes })}\n\n`);
    });
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    keepalive.unref();
    res.on('close', () => {
      off();
      clearInterval(keepalive);
      streams.delete(res);
    });
  });
}
