import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RulesetEngine, type ChangeEvent } from '../ruleset/index.js';
import { RulesetService } from '../daemon/ruleset-service.js';
import { buildUdp } from '../packet/build.js';
import { verdict } from '../ruleset/modules/rule-test-kit.js';
import { registerRulesetRoutes } from './ruleset-routes.js';
import { controlRequest, ControlError } from './client.js';
import { openEventStream } from '../cli/event-stream.js';
import { RulesetCluster } from '../daemon/ruleset-cluster.js';
import { MemoryNet } from '../../ruleset-dist/testing/memory-transport.js';
import type { DistRole } from '../../ruleset-dist/index.js';

const BASE = `table inet filter {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
  }
}
`;

describe('ruleset API routes', () => {
  let app: FastifyInstance;
  let dir: string;
  let socket: string;
  let control: RulesetEngine;
  let datapath: RulesetEngine;
  let refuseDatapath = false;
  let service: RulesetService;
  const logged: { level: 'info' | 'error'; obj: { event?: string } }[] = [];

  beforeEach(async () => {
    control = new RulesetEngine();
    datapath = new RulesetEngine();
    control.load(BASE, 'base.nft');
    datapath.load(BASE, 'base.nft');
    refuseDatapath = false;
    service = new RulesetService(
      control,
      async (ops) => {
        if (refuseDatapath) return { ok: false, error: 'refused' };
        datapath.transaction(ops as never);
        return { ok: true };
      },
      { info: (obj) => logged.push({ level: 'info', obj }), error: (obj) => logged.push({ level: 'error', obj }) },
    );
    dir = mkdtempSync(path.join(tmpdir(), 'hafw-api-test-'));
    socket = path.join(dir, 'api.sock');
    app = Fastify();
    registerRulesetRoutes(app, service);
    await app.listen({ path: socket });
  });

  afterEach(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the running ruleset as nft text (with handles on request) and as libnftables JSON', async () => {
    const text = await controlRequest<string>('GET', '/v1/ruleset?format=nft', { socket });
    assert.match(text, /chain forward \{/);
    assert.doesNotMatch(text, /# handle/);
    assert.match(await controlRequest<string>('GET', '/v1/ruleset?handles=1', { socket }), /ct state established,related accept # handle \d+/);
    const json = await controlRequest<{ nftables: Record<string, unknown>[] }>('GET', '/v1/ruleset?format=json', { socket });
    assert.ok(json.nftables.some((o) => 'rule' in o));
    await assert.rejects(controlRequest('GET', '/v1/ruleset?format=xml', { socket }), (e: ControlError) => e.status === 400);
  });

  it('POST /v1/ruleset/objects: list|reset counters on the datapath copy\'s live values (both copies reset), errors with their place', async () => {
    await controlRequest('POST', '/v1/ruleset/transactions', { socket, body: { ops: 'add counter inet filter seen\nadd rule inet filter forward counter name "seen"' } });
    verdict(datapath, buildUdp({ src: '192.0.2.1', dst: '198.51.100.1', sport: 1, dport: 2, payload: 72 }));
    service.datapathObjects = async (text) => ({ generation: datapath.generation, text: datapath.objectCommand(text) });
    service.datapathList = async (_format, handles) => ({ generation: datapath.generation, text: datapath.list({ handles }) });
    const gen = control.generation;
    assert.equal(await controlRequest<string>('POST', '/v1/ruleset/objects', { socket, body: { command: 'list counters inet' } }), 'table inet filter {\n\tcounter seen {\n\t\tpackets 1 bytes 100\n\t}\n}\n');
    assert.match(await controlRequest<string>('POST', '/v1/ruleset/objects', { socket, body: { command: 'reset counter inet filter seen' } }), /packets 1 bytes 100/);
    assert.match(datapath.objectCommand('list counters'), /packets 0 bytes 0/);
    assert.match(await controlRequest<string>('GET', '/v1/ruleset', { socket }), /counter seen \{\n\t\tpackets 0 bytes 0\n/);
    assert.equal(control.generation, gen, 'not a ruleset change');
    const err = await controlRequest('POST', '/v1/ruleset/objects', { socket, body: { command: 'reset counters table inet nope' } }).catch((e: ControlError) => e);
    assert.ok(err instanceof ControlError && err.status === 400);
    assert.match(err.message, /<command>:1:1: no table inet nope/);
    await assert.rejects(controlRequest('POST', '/v1/ruleset/objects', { socket, body: { ops: 'x' } }), (e: ControlError) => e.status === 400);
  });

  it('POST /v1/ruleset/objects with "json": true: nft -j list meters from the datapath copy (meters only)', async () => {
    await controlRequest('POST', '/v1/ruleset/transactions', { socket, body: { ops: 'add rule inet filter forward meter flood { ip saddr counter }' } });
    verdict(datapath, buildUdp({ src: '192.0.2.1', dst: '198.51.100.1', sport: 1, dport: 2, payload: 72 }));
    service.datapathObjects = async (text, json) => ({ generation: datapath.generation, text: datapath.objectCommand(text, '<command>', json) });
    const j = await controlRequest<{ nftables: Record<string, { name?: string; elem?: unknown }>[] }>('POST', '/v1/ruleset/objects', { socket, body: { command: 'list meters', json: true } });
    assert.equal(j.nftables.length, 2);
    assert.deepEqual(j.nftables[1]!.meter!.elem, [{ elem: { val: '192.0.2.1', counter: { packets: 1, bytes: 100 } } }], 'the keys the datapath copy holds');
    const err = await controlRequest('POST', '/v1/ruleset/objects', { socket, body: { command: 'list counters', json: true } }).catch((e: ControlError) => e);
    assert.ok(err instanceof ControlError && err.status === 400);
    assert.match(err.message, /JSON output is for list meters and list meter/);
    await assert.rejects(controlRequest('POST', '/v1/ruleset/objects', { socket, body: { command: 'list meters', json: 'yes' } }), (e: ControlError) => e.status === 400);
  });

  it('lists the datapath copy when it is at the same generation: the counters, quotas and named objects packets moved', async () => {
    await controlRequest('POST', '/v1/ruleset/transactions', { socket, body: { ops: 'add counter inet filter seen\nadd rule inet filter forward counter name "seen" counter' } });
    // Packets go through the datapath's copy only.
    verdict(datapath, buildUdp({ src: '192.0.2.1', dst: '198.51.100.1', sport: 1, dport: 2, payload: 72 }));
    verdict(datapath, buildUdp({ src: '2001:db8::1', dst: '2001:db8:1::1', sport: 1, dport: 2, payload: 52 }));
    let lag = 0;
    let down = false;
    service.datapathList = async (format, handles) => {
      if (down) throw new Error('datapath thread down');
      return { generation: datapath.generation - lag, ...(format === 'json' ? { json: datapath.toJSON() } : { text: datapath.list({ handles }) }) };
    };
    const text = await controlRequest<string>('GET', '/v1/ruleset', { socket });
    assert.match(text, /counter seen \{\n\t\tpackets 2 bytes 200\n/);
    assert.match(text, /counter name "seen" counter packets 2 bytes 200/);
    const json = await controlRequest<{ nftables: Record<string, { packets?: number }>[] }>('GET', '/v1/ruleset?format=json', { socket });
    assert.equal(json.nftables.find((o) => 'counter' in o)!.counter!.packets, 2);
    // Not at the control copy's generation (a commit in flight), or down: the control copy's listing.
    lag = 1;
    assert.match(await controlRequest<string>('GET', '/v1/ruleset', { socket }), /counter seen \{\n\t\tpackets 0 bytes 0\n/);
    lag = 0;
    down = true;
    assert.match(await controlRequest<string>('GET', '/v1/ruleset', { socket }), /counter seen \{\n\t\tpackets 0 bytes 0\n/);
  });

  it('applies a text transaction to the control engine and then the datapath engine, same handles', async () => {
    const r = await controlRequest<{ generation: number; changes: { op: string; handle: number }[] }>('POST', '/v1/ruleset/transactions', {
      socket,
      body: { ops: 'add rule inet filter forward tcp dport 22 accept', baseGeneration: 1 },
    });
    assert.equal(r.generation, 2);
    assert.equal(r.changes[0]!.op, 'add');
    assert.equal(control.generation, 2);
    assert.equal(datapath.generation, 2);
    assert.equal(datapath.list({ handles: true }), control.list({ handles: true }));
    assert.match(control.list(), /tcp dport 22 accept/);
  });

  it('applies libnftables JSON commands', async () => {
    const ops = [{ add: { rule: { family: 'inet', table: 'filter', chain: 'forward', expr: [{ match: { op: '==', left: { payload: { protocol: 'udp', field: 'dport' } }, right: 53 } }, { accept: null }] } } }];
    const r = await controlRequest<{ generation: number }>('POST', '/v1/ruleset/transactions', { socket, body: { ops } });
    assert.equal(r.generation, 2);
    assert.match(datapath.list(), /udp dport 53 accept/);
  });

  it('refuses a bad batch with 400 and its line:col, and changes nothing on either engine', async () => {
    const before = control.list({ handles: true });
    const err = await controlRequest('POST', '/v1/ruleset/transactions', {
      socket,
      body: { ops: 'add rule inet filter forward tcp dport 23 accept\nadd rule inet filter forward jump nowhere' },
    }).catch((e: ControlError) => e);
    assert.ok(err instanceof ControlError);
    assert.equal(err.status, 400);
    assert.match(err.message, /<api>:2:\d+: .*nowhere/);
    assert.equal(control.generation, 1);
    assert.equal(datapath.generation, 1);
    assert.equal(control.list({ handles: true }), before);
  });

  it('refuses a transaction based on an old generation with 409', async () => {
    await controlRequest('POST', '/v1/ruleset/transactions', { socket, body: { ops: 'add rule inet filter forward tcp dport 1 accept' } });
    const err = await controlRequest('POST', '/v1/ruleset/transactions', { socket, body: { ops: 'add rule inet filter forward tcp dport 2 accept', baseGeneration: 1 } }).catch((e: ControlError) => e);
    assert.ok(err instanceof ControlError);
    assert.equal(err.status, 409);
    assert.match(err.message, /based on generation 1, current is 2/);
    assert.doesNotMatch(control.list(), /dport 2 /);
  });

  it('rejects malformed bodies with 400', async () => {
    for (const body of [{}, { ops: 5 }, { ops: 'x', baseGeneration: -1 }]) {
      await assert.rejects(controlRequest('POST', '/v1/ruleset/transactions', { socket, body }), (e: ControlError) => e.status === 400, JSON.stringify(body));
    }
  });

  it('streams each committed transaction as a server-sent event, after the datapath applied it', async () => {
    const events: ChangeEvent[] = [];
    let datapathGenAtEvent = -1;
    const stream = openEventStream((type, data) => {
      if (type !== 'ruleset') return;
      events.push(data as ChangeEvent);
      datapathGenAtEvent = datapath.generation;
      if (events.length === 2) stream.stop();
    }, { socket });
    assert.equal(await stream.started, 1);
    await controlRequest('POST', '/v1/ruleset/transactions', { socket, body: { ops: 'add rule inet filter forward tcp dport 80 accept' } });
    await controlRequest('POST', '/v1/ruleset/transactions', { socket, body: { ops: 'add chain inet filter extra' } });
    await stream.ended;
    assert.deepEqual(events.map((e) => e.generation), [2, 3]);
    assert.equal(events[0]!.changes[0]!.kind, 'rule');
    assert.equal(events[1]!.changes[0]!.kind, 'chain');
    assert.equal(datapathGenAtEvent, 3, 'the event came after the datapath had the new generation');
  });

  it('logs an error when the datapath refuses what the control engine accepted', async () => {
    refuseDatapath = true;
    logged.length = 0;
    await controlRequest('POST', '/v1/ruleset/transactions', { socket, body: { ops: 'add rule inet filter forward tcp dport 9 accept' } });
    assert.ok(logged.some((l) => l.level === 'error' && l.obj.event === 'ruleset.datapathRefused'), JSON.stringify(logged));
  });

  it('expires timed-out set elements on both engines with one batch, publishes it, and then refuses a delete of them', async () => {
    await controlRequest('POST', '/v1/ruleset/transactions', {
      socket,
      body: { ops: 'add set inet filter tmp { type ipv4_addr; flags timeout; }\nadd element inet filter tmp { 192.0.2.7 timeout 1s, 192.0.2.8 }' },
    });
    const gen = control.generation;
    await service.expireElements(Date.now());
    assert.equal(control.generation, gen, 'nothing has expired yet: no commit');

    const events: ChangeEvent[] = [];
    const stream = openEventStream((type, data) => {
      if (type !== 'ruleset') return;
      events.push(data as ChangeEvent);
      stream.stop();
    }, { socket });
    await stream.started;
    logged.length = 0;
    await service.expireElements(Date.now() + 5000);
    await stream.ended;
    for (const [name, e] of [['control', control], ['datapath', datapath]] as const) {
      const text = e.list();
      assert.doesNotMatch(text, /192\.0\.2\.7/, `${name} dropped the expired element`);
      assert.match(text, /192\.0\.2\.8/, `${name} kept the element without a timeout`);
      assert.equal(e.generation, gen + 1, `${name} is one generation on`);
    }
    assert.deepEqual(events.map((e) => [e.generation, e.changes[0]!.op, e.changes[0]!.kind]), [[gen + 1, 'delete', 'element']]);
    assert.ok(!logged.some((l) => l.level === 'error'), JSON.stringify(logged));

    // Both copies agree it is gone: the control engine refuses, the datapath is never asked.
    await assert.rejects(
      controlRequest('POST', '/v1/ruleset/transactions', { socket, body: { ops: 'delete element inet filter tmp { 192.0.2.7 }' } }),
      (err: ControlError) => err.status === 400 && /not in set 'tmp'/.test(err.message),
    );
    assert.equal(datapath.generation, gen + 1);
  });

  it('describes the modules: all of them, one by name, 404 for an unknown name', async () => {
    const all = await controlRequest<{ kind: string; name: string }[]>('GET', '/v1/schema', { socket });
    assert.ok(all.some((m) => m.kind === 'match' && m.name === 'tcp dport'));
    assert.ok(all.some((m) => m.kind === 'statement' && m.name === 'counter'));
    const one = await controlRequest<{ name: string; help: string }[]>('GET', '/v1/schema?name=tcp%20dport', { socket });
    assert.deepEqual(one.map((m) => m.name), ['tcp dport']);
    await assert.rejects(controlRequest('GET', '/v1/schema?name=nosuch', { socket }), (e: ControlError) => e.status === 404);
  });

  it('ends open event streams when the server closes', async () => {
    const stream = openEventStream(() => undefined, { socket });
    await stream.started;
    await app.close();
    await stream.ended;
  });
});

describe('cluster ruleset routes (two nodes, real engines, in-memory network)', () => {
  const SET_BASE = `table inet filter {
  set block {
    type ipv4_addr
  }
  chain forward {
    type filter hook forward priority 0; policy accept;
    ip saddr @block drop
  }
}
`;
  interface N { name: string; role: DistRole; engine: RulesetEngine; app: FastifyInstance; cluster: RulesetCluster }
  let nodes: N[] = [];
  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

  async function makeNode(net: MemoryNet, name: string, id: number, role: DistRole): Promise<N> {
    const engine = new RulesetEngine();
    engine.load(SET_BASE, 'base.nft');
    const service = new RulesetService(engine, async () => ({ ok: true }), quiet, async () => ({ ok: true }));
    const n = { name, role, engine } as N;
    n.cluster = await RulesetCluster.start(service, engine, {
      settings: { port: 1, historySize: 20, stateDir: '', repairDrift: true, driftGraceMs: 1000, announceIntervalMs: 40, startupGraceMs: 100 },
      nodeName: name, nodeId: id, epoch: 1, key: new Uint8Array(32).fill(1), address: name, maxDatagramBytes: 1400, clock: Date.now,
      role: () => n.role, transport: net.transport(name),
    }, quiet);
    n.app = Fastify();
    registerRulesetRoutes(n.app, service);
    nodes.push(n);
    return n;
  }
  const call = async <T>(n: N, method: 'GET' | 'POST' | 'PUT', url: string, payload?: object): Promise<{ status: number; body: T }> => {
    const r = await n.app.inject({ method, url, payload });
    return { status: r.statusCode, body: r.json() as T };
  };
  async function waitFor(what: string, cond: () => Promise<boolean> | boolean, ms = 4000): Promise<void> {
    const until = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > until) throw new Error(`timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  afterEach(async () => {
    for (const n of nodes) {
      await n.cluster.stop();
      await n.app.close();
    }
    nodes = [];
  });

  it('a transaction on the master answers with its version, reaches the backup, and both report the same hash', async () => {
    const net = new MemoryNet();
    const a = await makeNode(net, 'fwa', 1, 'master');
    const b = await makeNode(net, 'fwb', 2, 'backup');
    const tx = await call<{ version: number; generation: number }>(a, 'POST', '/v1/ruleset/transactions', { ops: 'add element inet filter block { 192.0.2.7, 192.0.2.8 }' });
    assert.equal(tx.status, 200);
    assert.equal(tx.body.version, 2);
    await waitFor('backup at version 2', async () => (await call<{ version: number }>(b, 'GET', '/v1/ruleset/version')).body.version === 2);
    assert.match(b.engine.list(), /192\.0\.2\.7/);
    const va = (await call<{ hash: string; nodes: { name: string; version: number }[] }>(a, 'GET', '/v1/ruleset/version')).body;
    const vb = (await call<{ hash: string }>(b, 'GET', '/v1/ruleset/version')).body;
    assert.equal(va.hash, vb.hash);
    await waitFor('master hears the backup at 2', async () => (await call<{ nodes: { name: string; version: number }[] }>(a, 'GET', '/v1/ruleset/version')).body.nodes.some((x) => x.name === 'fwb' && x.version === 2));
  });

  it('same elements added in another order print (and hash) the same on both nodes', async () => {
    const net = new MemoryNet();
    const a = await makeNode(net, 'fwa', 1, 'master');
    const b = await makeNode(net, 'fwb', 2, 'backup');
    await call(a, 'POST', '/v1/ruleset/transactions', { ops: 'add element inet filter block { 192.0.2.9 }' });
    await call(a, 'POST', '/v1/ruleset/transactions', { ops: 'add element inet filter block { 192.0.2.1 }' });
    await waitFor('backup at 3', () => b.cluster.dist.currentVersion() === 3);
    // The backup rebuilds the same set from one whole text: other insertion history, same hash.
    b.role = 'master';
    a.role = 'backup';
    await waitFor('a hears b as master', async () => (await call<{ master?: string }>(a, 'GET', '/v1/ruleset/version')).body.master === 'fwb');
    const r = await call<{ version: number }>(b, 'PUT', '/v1/ruleset', { text: b.engine.list().replace('192.0.2.1, ', '').replace('192.0.2.9', '192.0.2.9, 192.0.2.1') });
    assert.equal(r.status, 200);
    assert.equal(r.body.version, 4);
    await waitFor('a at 4', () => a.cluster.dist.currentVersion() === 4);
    assert.equal(a.cluster.dist.currentHash(), b.cluster.dist.currentHash());
    assert.equal(a.cluster.dist.currentHash(), (await call<{ hash: string }>(a, 'GET', '/v1/ruleset/versions/3')).body.hash, 'same content as version 3');
  });

  it('the backup refuses writes with 409 naming the master, and changes nothing', async () => {
    const net = new MemoryNet();
    const a = await makeNode(net, 'fwa', 1, 'master');
    const b = await makeNode(net, 'fwb', 2, 'backup');
    await waitFor('b hears the master', () => b.cluster.dist.status().master === 'fwa');
    void a;
    const before = b.engine.list();
    const tx = await call<{ message: string; error: string }>(b, 'POST', '/v1/ruleset/transactions', { ops: 'add element inet filter block { 192.0.2.7 }' });
    assert.equal(tx.status, 409);
    assert.match(tx.body.message, /master \(fwa\)/);
    const put = await call<{ message: string }>(b, 'PUT', '/v1/ruleset', { text: SET_BASE });
    assert.equal(put.status, 409);
    const rb = await call<{ message: string }>(b, 'POST', '/v1/ruleset/rollback', { version: 1 });
    assert.equal(rb.status, 409);
    assert.equal(b.engine.list(), before);
  });

  it('history, version text and rollback (a new version with the old text) over the API', async () => {
    const net = new MemoryNet();
    const a = await makeNode(net, 'fwa', 1, 'master');
    const b = await makeNode(net, 'fwb', 2, 'backup');
    await call(a, 'POST', '/v1/ruleset/transactions', { ops: 'add element inet filter block { 192.0.2.7 }' });
    await call(a, 'POST', '/v1/ruleset/transactions', { ops: 'add rule inet filter forward tcp dport 23 drop' });
    const h = await call<{ versions: { version: number; summary: string; origin: string }[] }>(a, 'GET', '/v1/ruleset/history');
    assert.deepEqual(h.body.versions.map((v) => v.version), [1, 2, 3]);
    assert.equal(h.body.versions[2]!.origin, 'fwa');
    const v2 = await call<{ text: string }>(a, 'GET', '/v1/ruleset/versions/2');
    assert.match(v2.body.text, /192\.0\.2\.7/);
    assert.doesNotMatch(v2.body.text, /dport 23/);
    assert.equal((await call(a, 'GET', '/v1/ruleset/versions/99')).status, 404);
    const rb = await call<{ version: number; from: number }>(a, 'POST', '/v1/ruleset/rollback', { version: 1 });
    assert.deepEqual(rb.body, { version: 4, from: 1 });
    assert.doesNotMatch(a.engine.list(), /192\.0\.2\.7|dport 23/);
    await waitFor('backup rolled back too', () => b.cluster.dist.currentVersion() === 4);
    assert.doesNotMatch(b.engine.list(), /192\.0\.2\.7|dport 23/);
    assert.equal((await call(a, 'POST', '/v1/ruleset/rollback', { version: 77 })).status, 404);
    assert.equal((await call(a, 'POST', '/v1/ruleset/rollback', { versio: 1 })).status, 400);
  });

  it('a bad whole ruleset is refused with 400 and its position, and is no version', async () => {
    const net = new MemoryNet();
    const a = await makeNode(net, 'fwa', 1, 'master');
    const r = await call<{ message: string; errors: { line: number }[] }>(a, 'PUT', '/v1/ruleset', { text: 'table inet filter {\n  chain c {\n    jump nowhere\n  }\n}\n' });
    assert.equal(r.status, 400);
    assert.ok(r.body.errors.length > 0 && r.body.errors[0]!.line >= 1, JSON.stringify(r.body));
    assert.equal(a.cluster.dist.currentVersion(), 1);
    assert.match(a.engine.list(), /set block/);
  });

  it('without distribution the version routes answer 404 naming why', async () => {
    const app = Fastify();
    const engine = new RulesetEngine();
    registerRulesetRoutes(app, new RulesetService(engine, async () => ({ ok: true }), quiet));
    const r = await app.inject({ method: 'GET', url: '/v1/ruleset/version' });
    assert.equal(r.statusCode, 404);
    assert.match(r.json<{ message: string }>().message, /distribution is off/);
    await app.close();
  });
});

describe('ruleset routes in the node app (schemas, OpenAPI)', () => {
  it('the OpenAPI document with the distribution routes validates and describes them; a bad rollback body names the field', async () => {
    const { buildApp } = await import('./server.js');
    const { Validator } = await import('@seriousme/openapi-schema-validator');
    const { Registry } = await import('prom-client');
    const { pino } = await import('pino');
    const net = new MemoryNet();
    const engine = new RulesetEngine();
    engine.load(BASE, 'base.nft');
    const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
    const service = new RulesetService(engine, async () => ({ ok: true }), quiet, async () => ({ ok: true }));
    const cluster = await RulesetCluster.start(service, engine, {
      settings: { port: 1, historySize: 20, stateDir: '', repairDrift: true, driftGraceMs: 1000, announceIntervalMs: 40, startupGraceMs: 100 },
      nodeName: 'fwa', nodeId: 1, epoch: 1, key: new Uint8Array(32).fill(1), address: 'fwa', maxDatagramBytes: 1400, clock: Date.now,
      role: () => 'master', transport: net.transport('fwa'),
    }, quiet);
    const app = await buildApp({ status: () => ({}) as never, metrics: new Registry(), ruleset: service }, pino({ level: 'silent' }));
    try {
      const doc = (await app.inject({ method: 'GET', url: '/v1/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
      const v = await new Validator().validate(doc as never);
      assert.equal(v.valid, true, JSON.stringify(v.errors));
      for (const [p, m] of [['/v1/ruleset/version', 'get'], ['/v1/ruleset/history', 'get'], ['/v1/ruleset/versions/{v}', 'get'], ['/v1/ruleset/rollback', 'post'], ['/v1/ruleset', 'put']] as const) assert.ok(doc.paths[p]?.[m], `${m} ${p}`);
      const bad = await app.inject({ method: 'POST', url: '/v1/ruleset/rollback', payload: { version: 'one' } });
      assert.equal(bad.statusCode, 400);
      assert.match(bad.json<{ message: string }>().message, /\/body\/version/);
      const tx = await app.inject({ method: 'POST', url: '/v1/ruleset/transactions', payload: { ops: [{ add: { rule: { family: 'inet', table: 'filter', chain: 'forward', expr: [{ accept: null }] } } }] } });
      assert.equal(tx.statusCode, 200, tx.body);
      assert.equal(tx.json<{ version: number }>().version, 2, 'the version survives the response schema; a one-command JSON array passes the body schema');
    } finally {
      await app.close();
      await cluster.stop();
    }
  });
});
