import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { RulesetEngine } from '../ruleset/index.js';
import { defineBomb } from '../ruleset/test-rulesets.js';
import { RulesetService } from '../daemon/ruleset-service.js';
import { buildApp } from './server.js';
import { EventBus } from './event-bus.js';
import { StreamLimit } from './stream-limit.js';
import { createNodeMetrics } from './metrics.js';

const BASE = 'table inet keep { chain c { type filter hook forward priority 0; tcp dport 22 accept } }\n';
const TOKEN = 'api-token-0123456789abcdef';
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const quiet = { info: () => undefined, error: () => undefined };

function node(limits?: ConstructorParameters<typeof RulesetEngine>[0]) {
  const engine = new RulesetEngine(limits);
  engine.load(BASE, 'base.nft');
  let datapathLoads = 0;
  const service = new RulesetService(engine, async () => ({ ok: true }), quiet, async () => (datapathLoads++, { ok: true }));
  return { engine, service, datapathLoads: () => datapathLoads };
}

/** Opens GET /v1/events; resolves with the status and the response (left open on 200). */
function openStream(port: number): Promise<{ status: number; body: Promise<string>; res: http.IncomingMessage; req: http.ClientRequest }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/v1/events', headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
      const body = new Promise<string>((done) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => {
          text += d;
          if (res.statusCode === 200 && text.includes('generation')) done(text);
        });
        res.on('end', () => done(text));
      });
      resolve({ status: res.statusCode ?? 0, body, res, req });
    });
    req.on('error', reject);
  });
}

describe('API limits: bomb through PUT /v1/ruleset, event stream cap, metrics token', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('PUT /v1/ruleset refuses the define bomb in < 100 ms with 400 and its line:col; the running ruleset stays', async () => {
    const n = node();
    app = await buildApp({ status: () => ({}) as never, metrics: new Registry(), ruleset: n.service }, pino({ level: 'silent' }));
    const before = n.engine.list();
    // The route's first call (cold code) is not what is measured: a small bad ruleset first.
    assert.equal((await app.inject({ method: 'PUT', url: '/v1/ruleset', payload: { text: 'table inet t { chain c { nonsense } }' } })).statusCode, 400);
    const t0 = performance.now();
    const res = await app.inject({ method: 'PUT', url: '/v1/ruleset', payload: { text: defineBomb(30) } });
    const ms = performance.now() - t0;
    assert.equal(res.statusCode, 400, res.body);
    const body = res.json<{ message: string; errors: { line: number; col: number; message: string }[] }>();
    assert.deepEqual([body.errors[0]!.line, body.errors[0]!.col], [16, 16]);
    assert.match(body.errors[0]!.message, /variable expansion too large/);
    assert.ok(ms < 100, `answered in ${ms.toFixed(1)} ms`);
    assert.equal(n.engine.generation, 1);
    assert.equal(n.engine.list(), before);
    assert.equal(n.datapathLoads(), 0, 'nothing reached the datapath');
  });

  it('refuses a ruleset over maxBytes and a batch over maxElements through the API, and changes nothing', async () => {
    const n = node({ limits: { maxBytes: 2048, maxElements: 10 } });
    app = await buildApp({ status: () => ({}) as never, metrics: new Registry(), ruleset: n.service }, pino({ level: 'silent' }));
    const big = await app.inject({ method: 'PUT', url: '/v1/ruleset', payload: { text: BASE + `# ${'x'.repeat(3000)}\n` } });
    assert.equal(big.statusCode, 400);
    assert.match(big.json<{ message: string }>().message, /ruleset text is \d+ bytes, more than ruleset\.maxBytes \(2 KiB\)/);
    await app.inject({ method: 'POST', url: '/v1/ruleset/transactions', payload: { ops: 'add set inet keep s { type inet_service; }' } });
    const els = Array.from({ length: 11 }, (_, i) => i + 1).join(', ');
    const tx = await app.inject({ method: 'POST', url: '/v1/ruleset/transactions', payload: { ops: `add element inet keep s { ${els} }` } });
    assert.equal(tx.statusCode, 400);
    assert.match(tx.json<{ message: string }>().message, /would hold 11 set elements, more than ruleset\.maxElements \(10\)/);
    assert.equal(n.engine.elementCount(), 0);
  });

  it('serves at most api.maxEventStreams event streams, refuses more with 503 and the reason, and admits again when one closes', async () => {
    const limit = new StreamLimit(3);
    const bus = new EventBus();
    const metrics = createNodeMetrics({ nodeName: 'fwa', datapathCounters: () => ({}), eventStreams: () => [{ listener: 'management', open: limit.open, refused: limit.refused, max: limit.max }] });
    app = await buildApp({ status: () => ({}) as never, metrics, events: bus }, pino({ level: 'silent' }), { token: TOKEN, streams: limit });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as AddressInfo).port;
    const open: Awaited<ReturnType<typeof openStream>>[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await openStream(port);
      assert.equal(s.status, 200);
      await s.body;
      open.push(s);
    }
    const refused = await openStream(port);
    assert.equal(refused.status, 503);
    assert.equal(refused.res.headers['retry-after'], '10');
    assert.match(await refused.body, /"error":"too_many_streams".*already serves 3 event streams, its limit \(api\.maxEventStreams: 3\)/);
    const m = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.match(m.body, /^hafw_api_event_streams\{listener="management",node="fwa"\} 3$/m);
    assert.match(m.body, /^hafw_api_event_streams_refused_total\{listener="management",node="fwa"\} 1$/m);
    // One closes: its slot is free again.
    const closed = new Promise((r) => open[0]!.res.once('close', r));
    open[0]!.req.destroy();
    await closed;
    for (let i = 0; i < 50 && limit.open === 3; i++) await new Promise((r) => setTimeout(r, 10));
    const again = await openStream(port);
    assert.equal(again.status, 200);
    for (const s of [...open.slice(1), again]) s.req.destroy();
  });

  it('the metrics token reads GET /metrics and nothing else: it cannot PUT the ruleset', async () => {
    const n = node();
    app = await buildApp({ status: () => ({ node: 'fwa' }) as never, metrics: createNodeMetrics({ nodeName: 'fwa', datapathCounters: () => ({}) }), ruleset: n.service }, pino({ level: 'silent' }), { token: TOKEN, metricsToken: METRICS_TOKEN });
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    const scrape = await app.inject({ method: 'GET', url: '/metrics', headers: as(METRICS_TOKEN) });
    assert.equal(scrape.statusCode, 200);
    assert.match(scrape.body, /hafw_datapath_packets_total/);
    const put = await app.inject({ method: 'PUT', url: '/v1/ruleset', headers: as(METRICS_TOKEN), payload: { text: 'table inet other { }' } });
    assert.equal(put.statusCode, 403);
    assert.match(put.json<{ message: string }>().message, /metrics token \(api\.metricsTokenFile\) may only read GET \/metrics/);
    assert.equal(n.engine.generation, 1, 'nothing changed');
    for (const [method, url] of [['GET', '/v1/ruleset'], ['GET', '/v1/status'], ['POST', '/v1/ruleset/transactions'], ['POST', '/metrics']] as const) {
      const r = await app.inject({ method, url, headers: as(METRICS_TOKEN), payload: method === 'POST' ? { ops: 'flush ruleset' } : undefined });
      assert.ok(r.statusCode === 403 || (url === '/metrics' && r.statusCode === 404), `${method} ${url}: ${r.statusCode}`);
    }
    assert.equal(n.engine.generation, 1);
    // The API token still does everything; a wrong token is 401.
    assert.equal((await app.inject({ method: 'PUT', url: '/v1/ruleset', headers: as(TOKEN), payload: { text: 'table inet other { }' } })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/metrics', headers: as('nope-nope-nope-nope') })).statusCode, 401);
  });
});
