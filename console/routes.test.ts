import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import { buildApp, type NodeStatus } from '../node/api/index.js';
import { RulesetEngine } from '../node/ruleset/index.js';
import { RulesetService } from '../node/daemon/ruleset-service.js';
import { ASSETS } from './index.js';

const TOKEN = 'console-test-token';
const BASE = 'table inet filter {\n  chain forward {\n    type filter hook forward priority 0; policy drop;\n  }\n}\n';

describe('console served on the API listener', () => {
  let app: FastifyInstance;
  let engine: RulesetEngine;
  let service: RulesetService;

  beforeEach(async () => {
    engine = new RulesetEngine();
    engine.load(BASE);
    service = new RulesetService(engine, async () => ({ ok: true }), { info: () => undefined, error: () => undefined });
    const status = (): NodeStatus => ({ node: 'fwa', role: 'standalone', pid: 1, uptimeSeconds: 1, datapath: { tun: 'hafw0', offloads: false, vnetHdrLen: 0, counters: {}, native: {} } });
    app = await buildApp({ status, metrics: new Registry(), ruleset: service }, pino({ level: 'silent' }), { token: TOKEN, metricsToken: 'metrics-only' });
  });
  afterEach(async () => app.close());

  it('serves the page and every listed file without a token, with its type, CSP and cache headers', async () => {
    const page = await app.inject({ method: 'GET', url: '/' });
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(page.headers['cache-control'], 'no-cache');
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    // The one inline script is the import map, allowed by its hash and nothing else.
    const map = /<script type="importmap">([\s\S]*?)<\/script>/.exec(page.body)![1]!;
    assert.match(csp, new RegExp(`script-src 'self' 'sha256-${createHash('sha256').update(map).digest('base64').replace(/[+/]/g, '\\$&')}'`));
    assert.equal(page.body.match(/<script/g)!.length, 2, 'the import map and the app module, nothing inline besides');
    for (const name of Object.keys(ASSETS)) {
      if (name === 'index.html') continue;
      const r = await app.inject({ method: 'GET', url: `/console/${name}` });
      assert.equal(r.statusCode, 200, name);
      assert.match(String(r.headers['content-type']), name.endsWith('.css') ? /^text\/css/ : /^text\/javascript/, name);
      assert.ok(r.body.length > 0, name);
    }
  });

  it('answers 304 to a browser that has the file, and 404 for anything not listed (no traversal)', async () => {
    const first = await app.inject({ method: 'GET', url: '/console/app.js' });
    const again = await app.inject({ method: 'GET', url: '/console/app.js', headers: { 'if-none-match': String(first.headers.etag) } });
    assert.equal(again.statusCode, 304);
    for (const url of ['/console/', '/console/nope.js', '/console/../package.json', '/console/%2e%2e/%2e%2e/package.json', '/console/..%2f..%2fpackage.json', '/console/vendor/../../package.json', '/console/web/app.js', '/console/lib/forms.js.map', '/console/constructor', '/console/__proto__']) {
      const r = await app.inject({ method: 'GET', url });
      assert.ok(r.statusCode === 404 || r.statusCode === 401, `${url}: ${r.statusCode}`);
      assert.doesNotMatch(r.body, /"name": "hafw"/, url);
    }
  });

  it('leaves the API behind the token: no token 401, the metrics token only /metrics', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/v1/status' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'POST', url: '/console/app.js' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/status', headers: { authorization: 'Bearer metrics-only' } })).statusCode, 403);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/status', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, 200);
  });

  it('checks a batch without applying it: the diff, or the errors with positions; a stale base is 409', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const gen = engine.generation;
    const ok = await app.inject({ method: 'POST', url: '/v1/ruleset/check', headers: auth, payload: { ops: 'add rule inet filter forward tcp dport 22 accept', baseGeneration: gen } });
    assert.equal(ok.statusCode, 200, ok.body);
    const body = ok.json() as { ok: boolean; diff: string; changes: number; generation: number };
    assert.equal(body.ok, true);
    assert.equal(body.generation, gen);
    assert.equal(body.changes, 1);
    assert.match(body.diff, /^\+\s+tcp dport 22 accept$/m);
    const bad = await app.inject({ method: 'POST', url: '/v1/ruleset/check', headers: auth, payload: { ops: 'add rule inet filter forward tcp dport 99999 accept' } });
    const b = bad.json() as { ok: boolean; errors: { line: number; col: number; message: string }[] };
    assert.equal(b.ok, false);
    assert.equal(b.errors[0]!.line, 1);
    assert.ok(b.errors[0]!.col > 30, JSON.stringify(b.errors));
    const stale = await app.inject({ method: 'POST', url: '/v1/ruleset/check', headers: auth, payload: { ops: 'add rule inet filter forward accept', baseGeneration: gen + 5 } });
    assert.equal(stale.statusCode, 409);
    assert.equal(engine.generation, gen, 'nothing was applied');
    assert.doesNotMatch(engine.list(), /dport/);
  });

  it('refuses to copy a ruleset too large to check (413), and applies nothing', async () => {
    service.checkMaxBytes = 64;
    const r = await app.inject({ method: 'POST', url: '/v1/ruleset/check', headers: { authorization: `Bearer ${TOKEN}` }, payload: { ops: 'add rule inet filter forward accept' } });
    assert.equal(r.statusCode, 413);
    assert.match((r.json() as { message: string }).message, /listing is \d+ bytes, more than the 64 a check copies/);
    assert.doesNotMatch(engine.list(), /accept/);
  });
});
