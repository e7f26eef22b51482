import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import { Validator } from '@seriousme/openapi-schema-validator';
import { readFileSync } from 'node:fs';
import { API_VERSION, buildApp, errorPointer, type NodeStatus, type NodeView } from './server.js';
import { EventBus } from './event-bus.js';
import type { CtImportEntry, CtOp } from '../conntrack/index.js';
import { IMPORT_MAX_CHARS } from './schemas.js';
import { DrillRefused, type DrillReport } from '../ha/api-drill.js';

const status: NodeStatus = { node: 'fw-a', role: 'master', pid: 1, uptimeSeconds: 1, datapath: { tun: 'hafw0', offloads: true, vnetHdrLen: 10, counters: {}, native: {} } };
const entry = { id: 3, family: 'ip', proto: 6, zone: 0, original: { src: '192.0.2.1', dst: '198.51.100.1', sport: 40000, dport: 80 }, reply: { src: '198.51.100.1', dst: '192.0.2.1', sport: 80, dport: 40000 }, tcpState: 'ESTABLISHED', status: ['assured'], mark: 0, timeoutSeconds: 100, replicated: false };

interface Harness {
  app: FastifyInstance;
  ops: CtOp[];
  imports: CtImportEntry[][];
  bus: EventBus;
  drillState: string;
}

async function harness(token?: string): Promise<Harness> {
  const ops: CtOp[] = [];
  const bus = new EventBus();
  const imports: CtImportEntry[][] = [];
  const h = { ops, imports, bus, drillState: 'master' } as Harness;
  const report: DrillReport = { id: 'd1', mode: 'resign', status: 'running', phase: 'started', holdSeconds: 1, startedAt: 'now', takeover: null, peerInSync: null, preempt: true, reclaimMs: null };
  const view: NodeView = {
    status: () => status,
    metrics: new Registry(),
    events: bus,
    control: {
      async ctOp(op) {
        ops.push(op);
        if (op.op === 'list' && op.filter.src === '10.9.9.9') throw Object.assign(new Error('conntrack says no'), { field: 'src' });
        if (op.op === 'get' && op.id !== 3) return { entries: [], deleted: 0 };
        if (op.op === 'flush') return { entries: [], deleted: 7 };
        return { entries: [entry as never], deleted: op.op === 'delete' ? 1 : 0, next: op.op === 'list' ? 3 : undefined };
      },
      async ctImport(entries) {
        imports.push(entries);
        return { imported: entries.length - 1, existing: 1, refused: 0, nat: 0, existingLines: [entries[0]!.line], refusedLines: [] };
      },
      drills: {
        start: (mode, holdSeconds, group) => {
          if (h.drillState !== 'master') throw new DrillRefused(`this node is ${h.drillState}, not master`);
          if (group !== undefined && group !== 'a' && group !== 51) throw new DrillRefused(`group: no VRRP group named or numbered ${JSON.stringify(group)} on this node`, 400);
          return { report: { ...report, mode, holdSeconds, group: group === undefined ? null : { name: 'a', vrid: 51 } } };
        },
        get: (id) => (id === 'd1' ? report : undefined),
        list: () => [report],
      },
    },
  };
  h.app = await buildApp(view, pino({ level: 'silent' }), { token });
  return h;
}

describe('control API routes (schemas, OpenAPI, conntrack, drills, events)', () => {
  let h: Harness;
  afterEach(async () => h?.app.close());

  it('serves an OpenAPI 3 document that validates and describes every route', async () => {
    h = await harness();
    const res = await h.app.inject({ method: 'GET', url: '/v1/openapi.json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json() as { openapi: string; paths: Record<string, Record<string, { parameters?: { name: string }[]; requestBody?: unknown }>> };
    const v = await new Validator().validate(doc);
    assert.equal(v.valid, true, JSON.stringify(v.errors));
    assert.match(doc.openapi, /^3\./);
    for (const p of ['/v1/health', '/v1/status', '/metrics', '/v1/ct', '/v1/ct/{id}', '/v1/ct/tuple', '/v1/ct/flush', '/v1/ct/import', '/v1/cluster', '/v1/drills', '/v1/drills/{id}', '/v1/events', '/v1/openapi.json', '/v1/version']) assert.ok(doc.paths[p], `missing ${p}`);
    assert.deepEqual(doc.paths['/v1/ct']!.get!.parameters!.map((x) => x.name).sort(), ['after', 'dport', 'dst', 'family', 'limit', 'origin', 'proto', 'sport', 'src', 'state']);
    assert.ok(doc.paths['/v1/drills']!.post!.requestBody);
    assert.ok(doc.paths['/v1/ct/import']!.post!.requestBody);
  });

  it('GET /v1/version answers the package version, build commit, Node.js and API versions', async () => {
    h = await harness();
    const res = await h.app.inject({ method: 'GET', url: '/v1/version' });
    assert.equal(res.statusCode, 200);
    const v = res.json() as Record<string, unknown>;
    assert.deepEqual(Object.keys(v).sort(), ['api', 'commit', 'node', 'version']);
    assert.equal(v.version, JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version);
    assert.equal(v.node, process.versions.node);
    assert.equal(v.api, API_VERSION);
    assert.ok(v.commit === null || /^[0-9a-f]{40}(-dirty)?$/.test(v.commit as string), String(v.commit));
  });

  it('answers a bad body with 400 and a JSON pointer to the field', async () => {
    h = await harness();
    let r = await h.app.inject({ method: 'POST', url: '/v1/drills', payload: { mode: 'resign', holdSeconds: 'long' } });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().field, '/body/holdSeconds');
    r = await h.app.inject({ method: 'POST', url: '/v1/drills', payload: { holdSeconds: 1 } });
    assert.equal(r.json().field, '/body/mode');
    r = await h.app.inject({ method: 'POST', url: '/v1/ct/flush', payload: { proto: 'tcp', colour: 'red' } });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().field, '/body/colour');
    r = await h.app.inject({ method: 'GET', url: '/v1/ct?sport=99999' });
    assert.equal(r.json().field, '/querystring/sport');
    r = await h.app.inject({ method: 'GET', url: '/v1/ct?src=not-an-ip' });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().field, '/querystring/src');
    r = await h.app.inject({ method: 'GET', url: '/v1/ct?src=10.9.9.9' });
    assert.equal(r.json().field, '/querystring/src', "the datapath's verdict names the field too");
    assert.equal(h.ops.length, 1, 'invalid requests never reach the datapath');
  });

  it('builds RFC 6901 pointers: nested paths, missing and unknown properties, escaped names', () => {
    assert.equal(errorPointer('body', { instancePath: '/ops/0' }), '/body/ops/0');
    assert.equal(errorPointer('body', { instancePath: '', params: { missingProperty: 'mode' } }), '/body/mode');
    assert.equal(errorPointer('querystring', { instancePath: '', params: { additionalProperty: 'a/b~c' } }), '/querystring/a~1b~0c');
  });

  it('turns conntrack requests into datapath operations', async () => {
    h = await harness();
    let r = await h.app.inject({ method: 'GET', url: '/v1/ct?proto=tcp&family=ip&dport=80&state=established&limit=5&after=2' });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json(), { entries: [entry], next: 3 });
    assert.deepEqual(h.ops.pop(), { op: 'list', filter: { family: 4, proto: 6, src: undefined, dst: undefined, sport: undefined, dport: 80, state: 'ESTABLISHED', origin: undefined }, limit: 5, after: 2 });
    r = await h.app.inject({ method: 'GET', url: '/v1/ct/3' });
    assert.equal(r.json().original.sport, 40000);
    r = await h.app.inject({ method: 'GET', url: '/v1/ct/4' });
    assert.equal(r.statusCode, 404);
    r = await h.app.inject({ method: 'DELETE', url: '/v1/ct/tuple?proto=tcp&src=192.0.2.1&dst=198.51.100.1&sport=40000&dport=80' });
    assert.equal(r.json().deleted, 1);
    assert.deepEqual(h.ops.pop(), { op: 'delete', tuple: { family: undefined, proto: 6, src: '192.0.2.1', dst: '198.51.100.1', sport: 40000, dport: 80, zone: undefined } });
    r = await h.app.inject({ method: 'DELETE', url: '/v1/ct/tuple?src=192.0.2.1&dst=198.51.100.1' });
    assert.equal(r.json().field, '/querystring/proto');
    r = await h.app.inject({ method: 'POST', url: '/v1/ct/flush', payload: { origin: 'replicated' } });
    assert.deepEqual(r.json(), { deleted: 7 });
    const flush = h.ops.pop() as { op: 'flush'; filter: { origin?: string } };
    assert.equal(flush.filter.origin, 'replicated');
  });

  it('starts a drill with 202 and refuses one on a backup with 409', async () => {
    h = await harness();
    let r = await h.app.inject({ method: 'POST', url: '/v1/drills', payload: { mode: 'resign', holdSeconds: 2 } });
    assert.equal(r.statusCode, 202);
    assert.equal(r.headers.location, '/v1/drills/d1');
    assert.equal(r.json().holdSeconds, 2);
    assert.equal((await h.app.inject({ method: 'GET', url: '/v1/drills/d1' })).json().id, 'd1');
    assert.equal((await h.app.inject({ method: 'GET', url: '/v1/drills/nope' })).statusCode, 404);
    h.drillState = 'backup';
    r = await h.app.inject({ method: 'POST', url: '/v1/drills', payload: { mode: 'resign' } });
    assert.equal(r.statusCode, 409);
    assert.match(r.json().message, /backup, not master/);
  });

  it('drills one VRRP group by name or VRID; an unknown group is a 400 at /body/group, a wrong type a schema error', async () => {
    h = await harness();
    for (const group of ['a', 51]) {
      const r = await h.app.inject({ method: 'POST', url: '/v1/drills', payload: { mode: 'resign', group } });
      assert.equal(r.statusCode, 202);
      assert.deepEqual(r.json().group, { name: 'a', vrid: 51 });
    }
    let r = await h.app.inject({ method: 'POST', url: '/v1/drills', payload: { mode: 'resign', group: 'c' } });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().field, '/body/group');
    assert.match(r.json().message, /no VRRP group named or numbered "c"/);
    r = await h.app.inject({ method: 'POST', url: '/v1/drills', payload: { mode: 'resign', group: true } });
    assert.equal(r.statusCode, 400);
    r = await h.app.inject({ method: 'POST', url: '/v1/drills', payload: { mode: 'resign', group: 0 } });
    assert.equal(r.statusCode, 400, 'a VRID is 1-255');
  });

  it('asks for the token on every route but health on the management listener', async () => {
    h = await harness('0123456789abcdef0123');
    assert.equal((await h.app.inject({ method: 'GET', url: '/v1/health' })).statusCode, 200);
    assert.equal((await h.app.inject({ method: 'GET', url: '/v1/openapi.json' })).statusCode, 401);
    assert.equal((await h.app.inject({ method: 'GET', url: '/v1/ct' })).statusCode, 401);
    assert.equal((await h.app.inject({ method: 'GET', url: '/v1/ct', headers: { authorization: 'Bearer 0123456789abcdef0123' } })).statusCode, 200);
  });

  it('streams bus events over SSE, only the requested types', async () => {
    h = await harness();
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    const addr = h.app.server.address() as { port: number };
    const ac = new AbortController();
    const res = await fetch(`http://127.0.0.1:${addr.port}/v1/events?types=vrrp,drill`, { signal: ac.signal });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    const until = async (re: RegExp): Promise<void> => {
      while (!re.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    };
    await until(/: generation 0\n\n/);
    h.bus.publish('ruleset', { generation: 1, changes: [] });
    h.bus.publish('vrrp', { event: 'state', from: 'backup', to: 'master' });
    h.bus.publish('drill', { id: 'd1', phase: 'resigned' });
    await until(/event: drill\n/);
    assert.doesNotMatch(text, /event: ruleset/);
    assert.match(text, /event: vrrp\nid: 2\ndata: \{"event":"state","from":"backup","to":"master"\}\n\n/);
    assert.match(text, /event: drill\nid: 3\ndata: \{"id":"d1","phase":"resigned"\}/);
    ac.abort();
  });

  describe('POST /v1/ct/import', () => {
    const ok = (sport: number) => `ipv4 2 tcp 6 300 ESTABLISHED src=192.0.2.1 dst=198.51.100.1 sport=${sport} dport=80 src=198.51.100.1 dst=192.0.2.1 sport=80 dport=${sport} [ASSURED] mark=0 use=1`;
    const bad = 'ipv4 2 tcp 6 300 ESTABLISHED src=192.0.2.1 dst=198.51.100.1 sport=1 dport=80 mark=0 use=1';

    it('checks every line on the control thread and hands the entries to the datapath', async () => {
      h = await harness();
      const res = await h.app.inject({ method: 'POST', url: '/v1/ct/import', payload: { text: [ok(1), ok(2)].join('\n'), firstLine: 10 } });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), { format: 'extended', imported: 1, existing: 1, refused: 0, nat: 0, skipped: 0, existingLines: [10], refusedLines: [], errors: [] });
      assert.deepEqual(h.imports.map((x) => x.map((e) => [e.line, e.original.sport])), [[[10, 1], [11, 2]]]);
    });

    it('one bad line: 400 naming every bad line, and nothing reaches the table', async () => {
      h = await harness();
      const res = await h.app.inject({ method: 'POST', url: '/v1/ct/import', payload: { text: [ok(1), bad, ok(3), 'junk'].join('\n') } });
      assert.equal(res.statusCode, 400);
      const body = res.json() as { message: string; field: string; errors: { line: number; message: string }[] };
      assert.equal(body.field, '/body/text');
      assert.match(body.message, /2 line\(s\) are not connections, nothing imported .* line 2: the reply tuple is missing/);
      assert.deepEqual(body.errors.map((e) => e.line), [2, 4]);
      assert.equal(h.imports.length, 0);
    });

    it('reads a long text in pieces and still numbers every line of it', async () => {
      h = await harness();
      const lines = Array.from({ length: 2500 }, (_, i) => ok(10000 + i));
      lines[1799] = bad;
      const res = await h.app.inject({ method: 'POST', url: '/v1/ct/import', payload: { text: lines.join('\n'), firstLine: 5001 } });
      assert.equal(res.statusCode, 400);
      assert.deepEqual((res.json() as { errors: { line: number }[] }).errors.map((e) => e.line), [6800]);
      const good = await h.app.inject({ method: 'POST', url: '/v1/ct/import', payload: { text: lines.filter((_, i) => i !== 1799).join('\n') } });
      assert.equal(good.statusCode, 200);
      assert.equal(h.imports[0]!.length, 2499);
      assert.equal(h.imports[0]![2498]!.line, 2499);
    });

    it('skipBad imports the good lines and lists the bad ones', async () => {
      h = await harness();
      const res = await h.app.inject({ method: 'POST', url: '/v1/ct/import', payload: { text: [ok(1), bad, ok(3)].join('\n'), skipBad: true } });
      assert.equal(res.statusCode, 200);
      const body = res.json() as { skipped: number; errors: { line: number }[] };
      assert.equal(body.skipped, 1);
      assert.deepEqual(body.errors.map((e) => e.line), [2]);
      assert.deepEqual(h.imports[0]!.map((e) => e.line), [1, 3]);
    });

    it('refuses a text over the size cap and unknown fields before reading anything', async () => {
      h = await harness();
      const big = await h.app.inject({ method: 'POST', url: '/v1/ct/import', payload: { text: 'x'.repeat(IMPORT_MAX_CHARS + 1) } });
      assert.equal(big.statusCode, 400);
      assert.equal((big.json() as { field: string }).field, '/body/text');
      const extra = await h.app.inject({ method: 'POST', url: '/v1/ct/import', payload: { text: ok(1), apply: 'later' } });
      assert.equal(extra.statusCode, 400);
      assert.equal((extra.json() as { field: string }).field, '/body/apply');
      assert.equal(h.imports.length, 0);
    });
  });
});
