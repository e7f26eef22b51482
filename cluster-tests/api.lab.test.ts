/**
 * @lab the node API against a real running pair (fwa master, fwb backup): bearer-token
 * auth, malformed requests answered 400 naming the field, the OpenAPI document, the
 * connection table over the API and CLI (a deleted flow's replica disappears on the peer),
 * the cluster view, and an API drill followed over the event stream.
 */
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Lab, LAB_DIR, HAFW_BIN, sh, sleep, strictRulesetConfig } from './lab.js';
import { startEchoServer, tcpRun, ping } from './traffic.js';
import { CLIENT, SERVER } from './topology.js';

const TOKEN = 'hafw-test-token-0123456789abcdef';

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

/** Runs requests with fetch inside a node's namespace (the API listens on its loopback). */
async function call(lab: Lab, method: string, url: string, opts: { token?: string; body?: string; node?: string } = {}): Promise<Answer> {
  const script = `
    const r = await fetch(${JSON.stringify(`http://127.0.0.1:8470${url}`)}, {
      method: ${JSON.stringify(method)},
      headers: { ...(${JSON.stringify(opts.token ?? '')} ? { authorization: 'Bearer ' + ${JSON.stringify(opts.token ?? '')} } : {}), ...(${JSON.stringify(opts.body !== undefined)} ? { 'content-type': 'application/json' } : {}) },
      body: ${opts.body === undefined ? 'undefined' : JSON.stringify(opts.body)},
    });
    console.log(JSON.stringify({ status: r.status, body: await r.text(), headers: Object.fromEntries(r.headers) }));`;
  const out = await sh([process.execPath, '--input-type=module', '-e', script], { ns: lab.node(opts.node ?? 'fwa').ns });
  return JSON.parse(out) as Answer;
}

async function json<T>(lab: Lab, method: string, url: string, opts: { body?: unknown; node?: string } = {}): Promise<{ status: number; body: T }> {
  const a = await call(lab, method, url, { token: TOKEN, node: opts.node, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  return { status: a.status, body: JSON.parse(a.body) as T };
}

/** Follows /v1/events in a node's namespace until an event of type `until` (a drill: its end) or `ms`, printing the events as JSON. */
function followEvents(lab: Lab, node: string, types: string, ms: number, until = 'drill'): Promise<{ type: string; data: Record<string, unknown> }[]> {
  const script = `
    const ac = new AbortController();
    setTimeout(() => ac.abort(), ${ms});
    const events = [];
    try {
      const r = await fetch('http://127.0.0.1:8470/v1/events?types=${types}', { headers: { authorization: 'Bearer ${TOKEN}' }, signal: ac.signal });
      const dec = new TextDecoder();
      let buf = '';
      for await (const chunk of r.body) {
        buf += dec.decode(chunk);
        let i;
        while ((i = buf.indexOf('\\n\\n')) >= 0) {
          const block = buf.slice(0, i); buf = buf.slice(i + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (type && data) events.push({ type, data: JSON.parse(data) });
          if (type === ${JSON.stringify(until)} && (type !== 'drill' || /"phase":"(done|failed)"/.test(data))) ac.abort();
        }
      }
    } catch {}
    // The abort timer would keep the process (and the test) waiting: leave now.
    process.stdout.write(JSON.stringify(events) + '\\n', () => process.exit(0));`;
  return sh([process.execPath, '--input-type=module', '-e', script], { ns: lab.node(node).ns, timeoutMs: ms + 10000 }).then((o) => JSON.parse(o));
}

async function poll<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  let v = await fn();
  while (!ok(v) && Date.now() < deadline) {
    await sleep(100);
    v = await fn();
  }
  return v;
}

interface CtEntry {
  id: number;
  proto: number;
  original: { src: string; dst: string; sport: number; dport: number };
  replicated: boolean;
}

describe('@lab node API on a 2-node pair', function () {
  this.timeout(120000);
  let lab: Lab;
  let labIsOurs = false;
  let stopEcho: (() => Promise<void>) | undefined;

  before(async function () {
    this.timeout(15 * 60_000);
    const tokenFile = path.join(LAB_DIR, 'api.token');
    const rules = await strictRulesetConfig();
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    await chmod(tokenFile, 0o600); // the node refuses a token file others may read
    lab = await Lab.up({ nodes: 2, extraConfig: () => `${rules}api:\n  listen: 127.0.0.1:8470\n  tokenFile: ${tokenFile}\nconntrack:\n  timeouts:\n    icmp: 600\n` });
    labIsOurs = true;
    await lab.waitRole('fwa', 'master');
    await lab.waitRole('fwb', 'backup');
    const c = await poll(() => json<{ sync: { inSync: boolean } | null }>(lab, 'GET', '/v1/cluster', { node: 'fwb' }), (r) => r.body.sync?.inSync === true, 15000);
    assert.equal(c.body.sync?.inSync, true, 'the standby is in sync before the tests');
    stopEcho = await startEchoServer(5001);
  });
  after(async () => {
    await stopEcho?.();
    if (labIsOurs) await Lab.down();
  });

  it('answers health without a token and everything else only with the right one', async () => {
    assert.equal((await call(lab, 'GET', '/v1/health')).status, 200);
    for (const url of ['/v1/status', '/v1/openapi.json', '/v1/ct', '/v1/cluster', '/metrics']) {
      const none = await call(lab, 'GET', url);
      assert.equal(none.status, 401, url);
      assert.equal(none.headers['www-authenticate'], 'Bearer realm="hafw"');
    }
    assert.equal((await call(lab, 'GET', '/v1/status', { token: `${TOKEN}x` })).status, 401);
    assert.equal((await call(lab, 'POST', '/v1/drills', { token: 'wrong', body: '{"mode":"resign"}' })).status, 401);
    assert.equal(JSON.parse((await call(lab, 'GET', '/v1/status', { token: TOKEN })).body).node, 'fwa');
  });

  it('answers malformed bodies and queries with 400 naming the field, and changes nothing', async () => {
    const before = (await json<{ ruleset: unknown }>(lab, 'GET', '/v1/status')).body.ruleset;
    const cases: [string, string, unknown, string][] = [
      ['POST', '/v1/drills', { mode: 'resign', holdSeconds: 'long' }, '/body/holdSeconds'],
      ['POST', '/v1/drills', { mode: 'explode' }, '/body/mode'],
      ['POST', '/v1/ct/flush', { proto: 'tcp', colour: 'red' }, '/body/colour'],
      ['POST', '/v1/ct/flush', { src: '10.0.0.256' }, '/body/src'],
      ['POST', '/v1/ruleset/transactions', { opz: [] }, '/body/ops'],
    ];
    for (const [m, url, body, field] of cases) {
      const r = await json<{ field: string; message: string }>(lab, m, url, { body });
      assert.equal(r.status, 400, `${url} ${JSON.stringify(body)}`);
      assert.equal(r.body.field, field);
    }
    const q = await json<{ field: string }>(lab, 'GET', '/v1/ct?dport=70000');
    assert.equal(q.status, 400);
    assert.equal(q.body.field, '/querystring/dport');
    const notJson = await call(lab, 'POST', '/v1/ct/flush', { token: TOKEN, body: '{"proto": ' });
    assert.equal(notJson.status, 400);
    assert.deepEqual((await json<{ ruleset: unknown }>(lab, 'GET', '/v1/status')).body.ruleset, before, 'the ruleset is unchanged');
  });

  it('serves /metrics in the Prometheus text format', async () => {
    const r = await call(lab, 'GET', '/metrics', { token: TOKEN });
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type']!, /^text\/plain/);
    const lines = r.body.split('\n').filter((l) => l !== '');
    for (const l of lines) {
      if (l.startsWith('#')) assert.match(l, /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* /, l);
      else assert.match(l, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})? -?[0-9.e+-]+|NaN|[+-]Inf$/, l);
    }
    assert.ok(lines.some((l) => l.startsWith('hafw_datapath_packets_total{')));
    assert.ok(lines.some((l) => l.startsWith('hafw_ruleset_rules{')));
    // The sync lag histogram (merged from the sync worker's registry), with its buckets.
    assert.ok(lines.includes('# TYPE hafw_sync_lag_seconds histogram'), 'sync lag histogram declared');
    assert.ok(lines.some((l) => /^hafw_sync_lag_seconds_bucket\{[^}]*le="\+Inf"[^}]*\} \d+$/.test(l)), 'sync lag histogram buckets');
    assert.ok(lines.some((l) => /^hafw_sync_lag_seconds_count\{/.test(l)));
  });

  it('refuses a transaction with a bad rule with its line:col, and changes nothing', async () => {
    const before = (await json<{ ruleset: unknown }>(lab, 'GET', '/v1/status')).body.ruleset;
    const bad = await json<{ errors: { line: number; col: number }[] }>(lab, 'POST', '/v1/ruleset/transactions', { body: { ops: 'add rule inet filter forward tcp dport 99999 accept' } });
    assert.equal(bad.status, 400);
    assert.ok(bad.body.errors.length > 0 && bad.body.errors[0]!.col > 0, JSON.stringify(bad.body));
    assert.deepEqual((await json<{ ruleset: unknown }>(lab, 'GET', '/v1/status')).body.ruleset, before);
  });

  it('serves a valid OpenAPI 3 document describing the routes', async () => {
    const r = await json<{ openapi: string; paths: Record<string, unknown> }>(lab, 'GET', '/v1/openapi.json');
    assert.equal(r.status, 200);
    const v = await new Validator().validate(r.body);
    assert.equal(v.valid, true, JSON.stringify(v.errors));
    for (const p of ['/v1/ct', '/v1/ct/{id}', '/v1/ct/tuple', '/v1/ct/flush', '/v1/cluster', '/v1/drills', '/v1/drills/{id}', '/v1/events', '/v1/ruleset/transactions']) assert.ok(r.body.paths[p], p);
  });

  it('lists, gets and deletes a connection; the deleted flow disappears from the peer too', async () => {
    const t = await tcpRun(SERVER.v4, { bytes: 10_000, port: 5001 });
    assert.equal(t.ok, 1, JSON.stringify(t));
    const list = await json<{ entries: CtEntry[] }>(lab, 'GET', `/v1/ct?proto=tcp&src=${CLIENT.v4}&dport=5001&origin=local`);
    assert.equal(list.status, 200);
    assert.equal(list.body.entries.length, 1, JSON.stringify(list.body));
    const e = list.body.entries[0]!;
    assert.equal(e.original.dst, SERVER.v4);
    assert.equal((await json<CtEntry>(lab, 'GET', `/v1/ct/${e.id}`)).body.original.sport, e.original.sport);
    const tuple = `proto=tcp&src=${CLIENT.v4}&dst=${SERVER.v4}&sport=${e.original.sport}&dport=5001`;
    const replica = await poll(() => json<CtEntry>(lab, 'GET', `/v1/ct/tuple?${tuple}`, { node: 'fwb' }), (r) => r.status === 200, 5000);
    assert.equal(replica.status, 200, 'the standby holds the replica');
    assert.equal(replica.body.replicated, true);
    // The CLI, in conntrack style, on the active node.
    const line = await lab.hafw('fwa', ['ct', 'list', '-p', 'tcp', '--dport', '5001', '-s', CLIENT.v4]);
    assert.match(line, new RegExp(`^tcp +6 +\\d+ \\S+ src=${CLIENT.v4.replace(/\./g, '\\.')} dst=${SERVER.v4.replace(/\./g, '\\.')} sport=${e.original.sport} dport=5001 .* id=${e.id}$`, 'm'));
    const args = ['-p', 'tcp', '-s', CLIENT.v4, '-d', SERVER.v4, '--sport', String(e.original.sport), '--dport', '5001'];
    assert.match(await lab.hafw('fwa', ['ct', 'get', ...args]), new RegExp(`id=${e.id}`));
    await lab.hafw('fwa', ['ct', 'delete', ...args]);
    assert.equal((await json(lab, 'GET', `/v1/ct/tuple?${tuple}`)).status, 404, 'gone on the active node');
    const gone = await poll(() => json(lab, 'GET', `/v1/ct/tuple?${tuple}`, { node: 'fwb' }), (r) => r.status === 404, 5000);
    assert.equal(gone.status, 404, "the peer deleted its replica (sync destroy event)");
    const missing = await sh([process.execPath, HAFW_BIN, 'ct', 'get', ...args], { ns: lab.node('fwa').ns }).then(() => 0, (err: Error & { code?: number }) => err.message);
    assert.notEqual(missing, 0, 'hafw ct get of a missing connection fails');
    assert.match(String(missing), /no connection with that tuple/);
  });

  it('flushes only the connections matching the filter', async () => {
    assert.ok(await ping(SERVER.v4));
    const icmp0 = (await json<{ entries: CtEntry[] }>(lab, 'GET', '/v1/ct?proto=icmp&origin=local')).body.entries.length;
    assert.ok(icmp0 >= 1);
    const tcpBefore = (await json<{ entries: CtEntry[] }>(lab, 'GET', '/v1/ct?proto=tcp&limit=10000')).body.entries.length;
    const r = await json<{ deleted: number }>(lab, 'POST', '/v1/ct/flush', { body: { proto: 'icmp', origin: 'local' } });
    assert.equal(r.body.deleted, icmp0);
    assert.equal((await json<{ entries: CtEntry[] }>(lab, 'GET', '/v1/ct?proto=icmp&origin=local')).body.entries.length, 0);
    assert.equal((await json<{ entries: CtEntry[] }>(lab, 'GET', '/v1/ct?proto=tcp&limit=10000')).body.entries.length, tcpBefore, 'TCP entries untouched');
  });

  it('shows the cluster from the backup: the master, the VRRP peer and sync', async () => {
    const c = await json<{ vrrpState: string; master: { self: boolean; priority: number }; peers: { vrrp: { priority: number }[]; sync: unknown[] }; sync: { inSync: boolean } }>(lab, 'GET', '/v1/cluster', { node: 'fwb' });
    assert.equal(c.body.vrrpState, 'backup');
    assert.equal(c.body.master.self, false);
    assert.ok(c.body.peers.vrrp.some((p) => p.priority === c.body.master.priority), JSON.stringify(c.body.peers));
    assert.ok(c.body.peers.sync.length >= 1);
    assert.equal(c.body.sync.inSync, true);
    assert.match(await lab.hafw('fwb', ['status']), /^cluster  vrrp backup /m);
  });

  it('streams a committed ruleset transaction as a ruleset event, in the format from before the bus', async () => {
    const gen0 = (await json<{ ruleset: { generation: number } }>(lab, 'GET', '/v1/status')).body.ruleset.generation;
    const events = followEvents(lab, 'fwa', 'ruleset', 10000, 'ruleset');
    await sleep(700);
    const tx = await json<{ generation: number }>(lab, 'POST', '/v1/ruleset/transactions', { body: { ops: 'add rule inet filter forward tcp dport 5003 accept' } });
    assert.equal(tx.status, 200, JSON.stringify(tx.body));
    const ev = await events;
    assert.equal(ev.length, 1, JSON.stringify(ev));
    assert.equal(ev[0]!.data.generation, gen0 + 1);
    assert.ok(Array.isArray(ev[0]!.data.changes) && (ev[0]!.data.changes as unknown[]).length === 1);
  });

  it('runs a drill through the API: 409 on the backup, takeover measured, VRRP and drill events streamed', async () => {
    const refused = await json<{ message: string }>(lab, 'POST', '/v1/drills', { node: 'fwb', body: { mode: 'resign' } });
    assert.equal(refused.status, 409);
    assert.match(refused.body.message, /not master/);
    const events = followEvents(lab, 'fwa', 'vrrp,drill', 15000);
    await sleep(700);
    const start = await json<{ id: string; status: string }>(lab, 'POST', '/v1/drills', { body: { mode: 'resign', holdSeconds: 1 } });
    assert.equal(start.status, 202);
    const done = await poll(() => json<{ status: string; takeover: { ms: number; peer: string } | null; peerInSync: boolean; finalState: string; reclaimMs: number | null }>(lab, 'GET', `/v1/drills/${start.body.id}`), (r) => r.body.status !== 'running', 20000);
    assert.equal(done.body.status, 'done', JSON.stringify(done.body));
    assert.ok(done.body.takeover && done.body.takeover.ms < 1000, `takeover: ${JSON.stringify(done.body.takeover)}`);
    assert.equal(done.body.peerInSync, true);
    assert.equal(done.body.finalState, 'master');
    assert.ok(done.body.reclaimMs !== null);
    const ev = await events;
    const vrrp = ev.filter((e) => e.type === 'vrrp').map((e) => `${e.data.from}->${e.data.to}`);
    assert.ok(vrrp.includes('master->initialize'), vrrp.join(' '));
    assert.ok(vrrp.includes('backup->master'), vrrp.join(' '));
    const phases = ev.filter((e) => e.type === 'drill').map((e) => e.data.phase);
    assert.deepEqual(phases, ['started', 'resigned', 'takeover', 'holding', 'resumed', 'reclaimed', 'done']);
    await lab.waitRole('fwb', 'backup');
    // The same through the CLI.
    const out = await lab.hafw('fwa', ['drill', '--node', '--hold', '0', '--json']);
    const rep = JSON.parse(out.trim().split('\n').pop()!) as { status: string; takeover: unknown };
    assert.equal(rep.status, 'done');
    assert.ok(rep.takeover);
    await lab.waitRole('fwa', 'master');
  });
});
