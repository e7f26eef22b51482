/**
 * Control-plane routes: the connection table (list, get, delete, flush), the cluster view,
 * failover drills and the node-wide event stream. Request shapes are checked by the
 * schemas in schemas.ts before a handler runs; handlers reach the node only through
 * ControlView.
 */
import type { FastifyInstance, FastifyReply, RouteHandlerMethod } from 'fastify';
import type { ServerResponse } from 'node:http';
import { CtQueryError, DEFAULT_LIMIT, checkFilter, checkEventFilter, parseConntrackDump, parseEventNames, protoNumber, type CtEventFilter, type CtEventOut, type CtFilter, type CtImportEntry, type CtImportParse, type CtImportResult, type CtOp, type CtOpResult, type CtTupleQuery } from '../conntrack/index.js';
import { TraceFilterError, compileTraceFilter, type TraceRecordOut } from '../ruleset/index.js';
import type { TapHub, TapSink } from './tap-hub.js';
import { IMPORT_BODY_LIMIT, IMPORT_MAX_ENTRIES } from './schemas.js';
import { parseTypes, type EventBus } from './event-bus.js';
import type { ClusterInfo } from './cluster-view.js';
import type { DrillReport } from '../ha/api-drill.js';
import { serveUntilClosed, type StreamLimit } from './stream-limit.js';

export interface ControlView {
  /** Runs a connection-table operation in the datapath thread; absent: conntrack routes answer 404. */
  ctOp?(op: CtOp): Promise<CtOpResult>;
  /** Inserts connections read from a kernel conntrack dump in the datapath thread; absent: 404 like ctOp. */
  ctImport?(entries: CtImportEntry[]): Promise<CtImportResult>;
  cluster?(): Promise<ClusterInfo>;
  drills?: {
    start(mode: 'resign', holdSeconds: number, group?: string | number): { report: DrillReport };
    get(id: string): DrillReport | undefined;
    list(): DrillReport[];
  };
  events?: EventBus;
  /** GET /v1/ct/events subscribers (absent: conntrack is off, the route answers 404). */
  ctEvents?: TapHub<CtEventFilter, CtEventOut>;
  /** GET /v1/trace sessions (absent: the route answers 404). */
  trace?: TapHub<{ filter?: string }, TraceRecordOut>;
  /** The ruleset generation for the stream's first line (`: generation N`). */
  generation?(): number;
}

/** An HTTP error with a JSON body {error, message, field?}. */
function sendError(reply: FastifyReply, status: number, error: string, message: string, field?: string): FastifyReply {
  return reply.code(status).send(field === undefined ? { error, message } : { error, message, field });
}

type FilterQuery = { family?: string; proto?: string; src?: string; dst?: string; sport?: number; dport?: number; state?: string; origin?: 'local' | 'replicated' };

function family(v: string | undefined): 4 | 6 | undefined {
  if (v === undefined) return undefined;
  return v === 'ip' || v === '4' ? 4 : 6;
}

/** Query or body -> CtFilter; throws CtQueryError naming the field. */
function toFilter(q: FilterQuery): CtFilter {
  return checkFilter({
    family: family(q.family),
    proto: q.proto === undefined ? undefined : protoNumber(q.proto),
    src: q.src,
    dst: q.dst,
    sport: q.sport,
    dport: q.dport,
    state: q.state,
    origin: q.origin,
  });
}

function toTuple(q: FilterQuery & { zone?: number }): CtTupleQuery {
  return { family: family(q.family), proto: protoNumber(q.proto!), src: q.src!, dst: q.dst!, sport: q.sport, dport: q.dport, zone: q.zone };
}

/** Bad lines listed in an import's answer (the count is complete). */
const MAX_ERRORS_LISTED = 100;

/** Lines read between two turns of the event loop (about 20 ms): VRRP and the API keep running during a large import. */
const PARSE_PIECE_LINES = 1000;

/** parseConntrackDump over `text`, a piece at a time, yielding to the event loop in between. */
async function parseInPieces(text: string, firstLine: number): Promise<CtImportParse> {
  const lines = text.split('\n');
  const format = text.trimStart().startsWith('<') ? 'xml' : 'extended';
  const out: CtImportParse = { format, entries: [], errors: [] };
  for (let i = 0; i < lines.length; i += PARSE_PIECE_LINES) {
    if (i > 0) await new Promise((r) => setImmediate(r));
    const part = parseConntrackDump(lines.slice(i, i + PARSE_PIECE_LINES).join('\n'), firstLine + i, format);
    out.entries.push(...part.entries);
    out.errors.push(...part.errors);
  }
  return out;
}

/** GET /v1/events on the node-wide bus (replaces the ruleset-only stream; same `ruleset` events). */
export function eventsHandler(view: ControlView, streams: Set<ServerResponse>, limit: StreamLimit): RouteHandlerMethod {
  return (req, reply) => {
    const bus = view.events!;
    const types = parseTypes((req.query as { types?: string }).types);
    if (!limit.admit(reply)) return reply;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    // The first comment names the ruleset generation the stream starts after, so a client
    // can list the ruleset and then apply `ruleset` events without a gap.
    res.write(`: generation ${view.generation?.() ?? 0}\n\n`);
    const off = bus.subscribe(types, (ev) => {
      res.write(`event: ${ev.type}\nid: ${ev.seq}\ndata: ${JSON.stringify(ev.data)}\n\n`);
    });
    serveUntilClosed(res, streams, limit, off);
  };
}

/**
 * Bytes a datapath event stream may hold for a client that reads slower than events come;
 * beyond, its events are dropped (counted: hafw_ct_events_dropped_total /
 * hafw_trace_dropped_total, stage "client"), so a slow client costs bounded memory.
 */
export const MAX_STREAM_BUFFER_BYTES = 1 << 20;

/**
 * Serves one datapath event stream (connection events, traces) as Server-Sent Events:
 * `event: NAME`, `data: JSON` per item, a keepalive comment every 15 s; the subscription
 * ends with the connection.
 */
function tapStream<E>(reply: FastifyReply, streams: Set<ServerResponse>, limit: StreamLimit, name: string, subscribe: (sink: TapSink<E>) => () => void): FastifyReply {
  if (!limit.admit(reply)) return reply;
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.write(`: ${name} stream\n\n`);
  const off = subscribe({
    push(item) {
      if (res.writableLength > MAX_STREAM_BUFFER_BYTES) return false;
      res.write(`event: ${name}\ndata: ${JSON.stringify(item)}\n\n`);
      return true;
    },
  });
  serveUntilClosed(res, streams, limit, off);
  return reply;
}

/** GET /v1/ct/events and GET /v1/trace (they share the listener's stream cap with /v1/events). */
export function registerTapRoutes(app: FastifyInstance, view: ControlView, streams: Set<ServerResponse>, limit: StreamLimit): void {
  app.get('/v1/ct/events', async (req, reply) => {
    if (!view.ctEvents) return sendError(reply, 404, 'not_configured', 'conntrack is off on this node (conntrack.enabled: false)');
    const q = req.query as FilterQuery & { event?: string };
    let filter: CtEventFilter;
    try {
      const given = Object.fromEntries(Object.entries(toFilter(q)).filter(([, v]) => v !== undefined)) as CtFilter;
      filter = checkEventFilter({ ...given, ...(q.event !== undefined ? { events: parseEventNames(q.event) } : {}) });
    } catch (err) {
      if (err instanceof CtQueryError) return sendError(reply, 400, 'bad_request', err.message, `/querystring/${err.field}`);
      throw err;
    }
    const hub = view.ctEvents;
    return tapStream(reply, streams, limit, 'ct', (sink) => hub.subscribe(filter, sink as TapSink<Omit<CtEventOut, 'to'>>));
  });
  app.get('/v1/trace', async (req, reply) => {
    if (!view.trace) return sendError(reply, 404, 'not_configured', 'packet tracing is not available on this node');
    const q = req.query as { filter?: string };
    if (q.filter !== undefined) {
      try {
        compileTraceFilter(q.filter);
      } catch (err) {
        if (err instanceof TraceFilterError) return reply.code(400).send({ error: 'bad_request', message: `filter:${err.col}: ${err.message}`, field: '/querystring/filter', col: err.col });
        throw err;
      }
    }
    const hub = view.trace;
    return tapStream(reply, streams, limit, 'trace', (sink) => hub.subscribe(q.filter === undefined ? {} : { filter: q.filter }, sink as TapSink<Omit<TraceRecordOut, 'to'>>));
  });
}

export function registerControlRoutes(app: FastifyInstance, view: ControlView): void {
  const ct = view.ctOp?.bind(view);
  const run = async (reply: FastifyReply, op: CtOp, where: 'querystring' | 'body' | 'params'): Promise<CtOpResult | undefined> => {
    if (!ct) {
      sendError(reply, 404, 'not_configured', 'conntrack is off on this node (conntrack.enabled: false)');
      return undefined;
    }
    try {
      return await ct(op);
    } catch (err) {
      const field = (err as { field?: string }).field;
      if (err instanceof CtQueryError || field) {
        sendError(reply, 400, 'bad_request', (err as Error).message, field ? `/${where}/${field}` : undefined);
        return undefined;
      }
      throw err;
    }
  };
  const badFilter = (reply: FastifyReply, err: unknown, where: string): FastifyReply => {
    if (err instanceof CtQueryError) return sendError(reply, 400, 'bad_request', err.message, `/${where}/${err.field}`);
    throw err;
  };

  app.get('/v1/ct', async (req, reply) => {
    const q = req.query as FilterQuery & { limit?: number; after?: number };
    let filter: CtFilter;
    try {
      filter = toFilter(q);
    } catch (err) {
      return badFilter(reply, err, 'querystring');
    }
    const r = await run(reply, { op: 'list', filter, limit: q.limit ?? DEFAULT_LIMIT, after: q.after }, 'querystring');
    if (!r) return reply;
    return r.next === undefined ? { entries: r.entries } : { entries: r.entries, next: r.next };
  });

  const byTuple = (method: 'get' | 'delete') => async (req: { query: unknown }, reply: FastifyReply) => {
    let tuple: CtTupleQuery;
    try {
      tuple = toTuple(req.query as FilterQuery);
    } catch (err) {
      return badFilter(reply, err, 'querystring');
    }
    const r = await run(reply, method === 'get' ? { op: 'lookup', tuple } : { op: 'delete', tuple }, 'querystring');
    if (!r) return reply;
    if (r.entries.length === 0) return sendError(reply, 404, 'not_found', 'no connection with that tuple');
    return method === 'get' ? r.entries[0] : { deleted: r.deleted, entry: r.entries[0] };
  };
  app.get('/v1/ct/tuple', byTuple('get'));
  app.delete('/v1/ct/tuple', byTuple('delete'));

  app.get('/v1/ct/:id', async (req, reply) => {
    const id = (req.params as { id: number }).id;
    const r = await run(reply, { op: 'get', id }, 'params');
    if (!r) return reply;
    if (r.entries.length === 0) return sendError(reply, 404, 'not_found', `no connection with id ${id}`);
    return r.entries[0];
  });
  app.delete('/v1/ct/:id', async (req, reply) => {
    const id = (req.params as { id: number }).id;
    const r = await run(reply, { op: 'delete', id }, 'params');
    if (!r) return reply;
    if (r.entries.length === 0) return sendError(reply, 404, 'not_found', `no connection with id ${id}`);
    return { deleted: r.deleted, entry: r.entries[0] };
  });
  app.post('/v1/ct/flush', async (req, reply) => {
    let filter: CtFilter;
    try {
      filter = toFilter((req.body ?? {}) as FilterQuery);
    } catch (err) {
      return badFilter(reply, err, 'body');
    }
    const r = await run(reply, { op: 'flush', filter }, 'body');
    if (!r) return reply;
    return { deleted: r.deleted };
  });

  app.post('/v1/ct/import', { bodyLimit: IMPORT_BODY_LIMIT }, async (req, reply) => {
    const body = req.body as { text: string; skipBad?: boolean; firstLine?: number };
    if (!view.ctImport) return sendError(reply, 404, 'not_configured', 'conntrack is off on this node (conntrack.enabled: false)');
    // The text is checked here, on the control thread, before anything reaches the table:
    // one bad line stops the whole request unless the caller asked to skip bad lines.
    const parsed = await parseInPieces(body.text, body.firstLine ?? 1);
    const errors = parsed.errors.slice(0, MAX_ERRORS_LISTED);
    if (parsed.errors.length > 0 && body.skipBad !== true) {
      const first = parsed.errors[0]!;
      return reply.code(400).send({
        error: 'bad_request',
        message: `${parsed.errors.length} line(s) are not connections, nothing imported (skipBad imports the rest); line ${first.line}: ${first.message}`,
        field: '/body/text',
        errors,
      });
    }
    if (parsed.entries.length > IMPORT_MAX_ENTRIES) {
      return sendError(reply, 400, 'bad_request', `${parsed.entries.length} connections in one request; at most ${IMPORT_MAX_ENTRIES} (send the dump in parts, as hafw ct import does)`, '/body/text');
    }
    const r = await view.ctImport(parsed.entries);
    req.log.info({ format: parsed.format, imported: r.imported, existing: r.existing, refused: r.refused, nat: r.nat, skipped: parsed.errors.length }, 'connections imported');
    return { format: parsed.format, ...r, skipped: parsed.errors.length, errors };
  });

  app.get('/v1/cluster', async (_req, reply) => {
    if (!view.cluster) return sendError(reply, 404, 'not_configured', 'no cluster view on this node');
    return view.cluster();
  });

  app.post('/v1/drills', async (req, reply) => {
    const body = req.body as { mode: 'resign'; holdSeconds?: number; group?: string | number };
    if (!view.drills) return sendError(reply, 409, 'conflict', 'this node runs without VRRP (no vrrp: section): there is no mastership to hand over');
    try {
      const { report } = view.drills.start(body.mode, body.holdSeconds ?? 5, body.group);
      reply.code(202).header('location', `/v1/drills/${report.id}`);
      return report;
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 400) return sendError(reply, 400, 'bad_request', (err as Error).message, '/body/group');
      if (status) return sendError(reply, status, status === 409 ? 'conflict' : 'error', (err as Error).message);
      throw err;
    }
  });
  app.get('/v1/drills', async () => view.drills?.list() ?? []);
  app.get('/v1/drills/:id', async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const r = view.drills?.get(id);
    if (!r) return sendError(reply, 404, 'not_found', `no drill ${id} on this node (reports of the last 20 are kept)`);
    return r;
  });
}
