import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RulesetEngine, type ChangeEvent } from '../ruleset/index.js';
import { RulesetService } from '../daemon/ruleset-service.js';
import { registerRulesetRoutes } from './ruleset-routes.js';
import { controlRequest, ControlError } from './client.js';
import { openEventStream } from '../cli/event-stream.js';

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
  const logged: string[] = [];

  beforeEach(async () => {
    control = new RulesetEngine();
    datapath = new RulesetEngine();
    control.load(BASE, 'base.nft');
    datapath.load(BASE, 'base.nft');
    refuseDatapath = false;
    const service = new RulesetService(
      control,
      async (ops) => {
        if (refuseDatapath) return { ok: false, error: 'refused' };
        datapath.transaction(ops as never);
        return { ok: true };
      },
      { info: (_o, m) => logged.push(m), error: (_o, m) => logged.push(`ERROR ${m}`) },
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
    assert.ok(logged.some((l) => l.startsWith('ERROR datapath refused')));
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
