import assert from 'node:assert/strict';
import pino from 'pino';
import { Registry } from 'prom-client';
import { buildApp, type NodeStatus } from './server.js';
import { EventBus } from './event-bus.js';
import { viewAllows } from './auth.js';
import type { CtOp } from '../conntrack/index.js';
import { RulesetEngine } from '../ruleset/index.js';
import { RulesetService } from '../daemon/ruleset-service.js';

const status: NodeStatus = { node: 'fw-a', role: 'master', pid: 1, uptimeSeconds: 1, datapath: { tun: 'hafw0', offloads: true, vnetHdrLen: 10, counters: {}, native: {} } };
const TOKEN = 'api-token-0123456789';
const VIEW = 'view-token-0123456789';
const METRICS = 'metrics-token-0123456789';
const BASE = 'table inet filter {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n  }\n}\n';

async function harness() {
  const ops: CtOp[] = [];
  const drills: number[] = [];
  const engine = new RulesetEngine();
  engine.load(BASE);
  const service = new RulesetService(engine, async () => ({ ok: true }), { info: () => undefined, error: () => undefined });
  const app = await buildApp({
    status: () => status,
    metrics: new Registry(),
    events: new EventBus(),
    ruleset: service,
    control: {
      async ctOp(op) {
        ops.push(op);
        return { entries: [], deleted: op.op === 'delete' ? 1 : 0 };
      },
      drills: {
        start: (mode, holdSeconds) => {
          drills.push(holdSeconds);
          return { report: { id: 'd1', mode, status: 'running', phase: 'started', holdSeconds, startedAt: 'now', takeover: null, peerInSync: null, preempt: true, reclaimMs: null } };
        },
        get: () => undefined,
        list: () => [],
      },
    },
  }, pino({ level: 'silent' }), { token: TOKEN, metricsToken: METRICS, viewToken: VIEW });
  const as = (t: string) => ({ authorization: `Bearer ${t}` });
  return { app, ops, drills, engine, as };
}

describe('API tokens: full, view-only, metrics-only', () => {
  it('the view token reads what the API token reads and says so at GET /v1/access', async () => {
    const h = await harness();
    for (const url of ['/v1/status', '/v1/ct', '/v1/ruleset', '/v1/drills', '/v1/schema', '/metrics', '/v1/openapi.json']) {
      const r = await h.app.inject({ method: 'GET', url, headers: h.as(VIEW) });
      assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
    }
    assert.deepEqual((await h.app.inject({ method: 'GET', url: '/v1/access', headers: h.as(VIEW) })).json(), { access: 'view' });
    assert.deepEqual((await h.app.inject({ method: 'GET', url: '/v1/access', headers: h.as(TOKEN) })).json(), { access: 'full' });
    assert.equal((await h.app.inject({ method: 'GET', url: '/v1/access', headers: h.as(METRICS) })).statusCode, 403, 'the metrics token reads /metrics only');
    assert.equal((await h.app.inject({ method: 'GET', url: '/v1/access', headers: h.as('wrong') })).statusCode, 401);
    await h.app.close();
  });

  it('the view token may check a ruleset change (it applies nothing) but not apply it', async () => {
    const h = await harness();
    const before = h.engine.list();
    const check = await h.app.inject({ method: 'POST', url: '/v1/ruleset/check', headers: h.as(VIEW), payload: { ops: 'add rule inet filter forward tcp dport 22 drop' } });
    assert.equal(check.statusCode, 200, check.body);
    const apply = await h.app.inject({ method: 'POST', url: '/v1/ruleset/transactions', headers: h.as(VIEW), payload: { ops: 'add rule inet filter forward tcp dport 22 drop' } });
    assert.equal(apply.statusCode, 403);
    assert.deepEqual(apply.json(), { error: 'forbidden', access: 'view', message: 'the view token (api.viewTokenFile) may read but not change anything: POST /v1/ruleset/transactions needs the API token (api.tokenFile)' });
    assert.equal(h.engine.list(), before, 'nothing applied');
    const full = await h.app.inject({ method: 'POST', url: '/v1/ruleset/transactions', headers: h.as(TOKEN), payload: { ops: 'add rule inet filter forward tcp dport 22 drop' } });
    assert.equal(full.statusCode, 200, full.body);
    await h.app.close();
  });

  it('refuses every write of the API to the view token before its handler runs (403, the route named)', async () => {
    const h = await harness();
    const doc = (await h.app.inject({ method: 'GET', url: '/v1/openapi.json', headers: h.as(TOKEN) })).json() as { paths: Record<string, Record<string, unknown>> };
    const writes: string[] = [];
    for (const [p, methods] of Object.entries(doc.paths)) {
      for (const m of Object.keys(methods)) {
        const method = m.toUpperCase();
        if (viewAllows(method, p)) continue;
        // Concrete URLs for the templated paths; the body need not be valid: auth runs first.
        const url = p.replace('{id}', '3').replace('{v}', '1');
        writes.push(`${method} ${url}`);
        const r = await h.app.inject({ method: method as 'POST', url, headers: h.as(VIEW), payload: {} });
        assert.equal(r.statusCode, 403, `${method} ${url}: ${r.body}`);
        assert.match(r.json<{ message: string }>().message, new RegExp(`may read but not change anything: ${method} ${url.replace(/[/]/g, '\\/')} needs the API token`));
      }
    }
    for (const w of ['POST /v1/drills', 'DELETE /v1/ct/3', 'POST /v1/ct/flush', 'POST /v1/ruleset/transactions', 'POST /v1/ct/import']) assert.ok(writes.includes(w), `${w} among the writes tried (${writes.join(', ')})`);
    assert.deepEqual(h.ops, [], 'no connection-table operation ran');
    assert.deepEqual(h.drills, [], 'no drill started');
    await h.app.close();
  });

  it('viewAllows: reads and the check, nothing else', () => {
    assert.equal(viewAllows('GET', '/v1/ct'), true);
    assert.equal(viewAllows('HEAD', '/metrics'), true);
    assert.equal(viewAllows('POST', '/v1/ruleset/check'), true);
    assert.equal(viewAllows('POST', '/v1/ruleset/rollback'), false);
    assert.equal(viewAllows('PUT', '/v1/ruleset'), false);
    assert.equal(viewAllows('DELETE', '/v1/ct/1'), false);
  });
});
