import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { RulesetEngine } from '../ruleset/index.js';
import { RulesetService } from '../daemon/ruleset-service.js';
import { RulesetCluster } from '../daemon/ruleset-cluster.js';
import { registerRulesetRoutes } from '../api/ruleset-routes.js';
import { MemoryNet } from '../../ruleset-dist/testing/memory-transport.js';
import type { DistRole } from '../../ruleset-dist/index.js';

const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'main.js');

const BASE = `table inet filter {
  set block {
    type ipv4_addr
  }
  chain forward {
    type filter hook forward priority 0; policy accept;
    ip saddr @block counter drop
  }
}
`;

describe('hafw ruleset diff / history / rollback / show --cluster / apply --replace (against a two-node in-memory cluster)', () => {
  let dir: string;
  let launcher: string;
  const nodes: { role: DistRole; engine: RulesetEngine; app: FastifyInstance; cluster: RulesetCluster; socket: string }[] = [];
  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

  function hafw(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    return new Promise((resolve) => {
      execFile(process.execPath, [launcher, ...args], { encoding: 'utf8', env: { ...process.env, HAFW_RUN_DIR: '/nonexistent-hafw-test' } }, (err, out, errOut) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out, err: errOut });
      });
    });
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hafw-dist-cli-'));
    launcher = path.join(dir, 'hafw.mjs');
    writeFileSync(launcher, `import(${JSON.stringify(ENTRY)}).then((m) => m.main(process.argv.slice(2))).then((c) => { process.exitCode = c; });\n`);
    const net = new MemoryNet();
    for (const [name, id, role] of [['fwa', 1, 'master'], ['fwb', 2, 'backup']] as const) {
      const engine = new RulesetEngine();
      engine.load(BASE, 'base.nft');
      const service = new RulesetService(engine, async () => ({ ok: true }), quiet, async () => ({ ok: true }));
      const n = { role: role as DistRole, engine } as (typeof nodes)[number];
      n.cluster = await RulesetCluster.start(service, engine, {
        settings: { port: 1, historySize: 20, stateDir: '', repairDrift: true, driftGraceMs: 1000, announceIntervalMs: 40, startupGraceMs: 100 },
        nodeName: name, nodeId: id, epoch: 1, key: new Uint8Array(32).fill(1), address: name, maxDatagramBytes: 1400, clock: Date.now,
        role: () => n.role, transport: net.transport(name),
      }, quiet);
      n.app = Fastify();
      registerRulesetRoutes(n.app, service);
      n.socket = path.join(dir, `${name}.sock`);
      await n.app.listen({ path: n.socket });
      nodes.push(n);
    }
    const until = Date.now() + 3000;
    while (nodes[1]!.cluster.dist.status().master !== 'fwa' && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  });

  after(async () => {
    for (const n of nodes) {
      await n.cluster.stop();
      await n.app.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('apply prints the version a transaction became; the backup refuses it naming the master (exit 1)', async () => {
    const [a, b] = nodes;
    const ok = await hafw('ruleset', 'apply', '--socket', a!.socket, 'add element inet filter block { 192.0.2.7 }');
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /^ok: 1 change, generation \d+, version 2 /);
    const refused = await hafw('ruleset', 'apply', '--socket', b!.socket, 'add element inet filter block { 192.0.2.8 }');
    assert.equal(refused.code, 1);
    assert.match(refused.err, /not the ruleset writer.*\(fwa\)/);
  });

  it('diff FILE: exit 0 when only layout and counters differ, exit 1 with a unified diff otherwise', async () => {
    const a = nodes[0]!;
    const same = path.join(dir, 'same.nft');
    // The running ruleset has element 192.0.2.7 now (previous test); this file says the same in another layout.
    writeFileSync(same, `table inet filter {\n  set block { type ipv4_addr; elements = { 192.0.2.7 } }\n  chain forward { type filter hook forward priority 0; policy accept; ip saddr @block counter packets 9 bytes 99 drop }\n}\n`);
    const r0 = await hafw('ruleset', 'diff', '--socket', a.socket, same);
    assert.equal(r0.code, 0, r0.out + r0.err);
    assert.equal(r0.out, '');
    const other = path.join(dir, 'other.nft');
    writeFileSync(other, BASE.replace('policy accept', 'policy drop'));
    const r1 = await hafw('ruleset', 'diff', '--socket', a.socket, other);
    assert.equal(r1.code, 1);
    assert.match(r1.out, /^--- running\n\+\+\+ .*other\.nft\n/m);
    assert.match(r1.out, /^-\t\ttype filter hook forward priority filter; policy accept;$/m);
    assert.match(r1.out, /^\+\t\ttype filter hook forward priority filter; policy drop;$/m);
    assert.match(r1.out, /^-\t\telements = \{ 192\.0\.2\.7 \}$/m);
    const j = await hafw('ruleset', 'diff', '--json', '--socket', a.socket, other);
    assert.equal(JSON.parse(j.out).equal, false);
    assert.equal((await hafw('ruleset', 'diff', '--socket', a.socket, path.join(dir, 'missing.nft'))).code, 2);
    assert.equal((await hafw('ruleset', 'diff', '--socket', a.socket)).code, 2, 'usage error');
  });

  it('diff --from V --to W compares two versions; an unknown version is exit 2', async () => {
    const a = nodes[0]!;
    const r = await hafw('ruleset', 'diff', '--socket', a.socket, '--from', '1', '--to', '2');
    assert.equal(r.code, 1);
    assert.match(r.out, /^--- version 1\n\+\+\+ version 2\n/);
    assert.match(r.out, /^\+\t\telements = \{ 192\.0\.2\.7 \}$/m);
    assert.equal((await hafw('ruleset', 'diff', '--socket', a.socket, '--from', '2')).code, 0, 'version 2 is what runs');
    assert.equal((await hafw('ruleset', 'diff', '--socket', a.socket, '--from', '42')).code, 2);
  });

  it('history lists the versions with the running one marked; rollback makes a new version everywhere', async () => {
    const [a, b] = nodes;
    const h = await hafw('ruleset', 'history', '--socket', a!.socket);
    assert.equal(h.code, 0, h.err);
    assert.match(h.out, /^  1 .* fwa .* initial ruleset$/m);
    assert.match(h.out, /^\* 2 .* fwa .* transaction$/m);
    const rb = await hafw('ruleset', 'rollback', '--socket', a!.socket, '1');
    assert.equal(rb.code, 0, rb.err);
    assert.equal(rb.out, 'ok: version 3 (the ruleset of version 1)\n');
    const until = Date.now() + 3000;
    while (b!.cluster.dist.currentVersion() !== 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    assert.equal(b!.cluster.dist.currentVersion(), 3);
    assert.doesNotMatch(b!.engine.list(), /192\.0\.2\.7/);
    assert.equal((await hafw('ruleset', 'rollback', '--socket', a!.socket, '99')).code, 1);
    assert.equal((await hafw('ruleset', 'rollback', '--socket', b!.socket, '1')).code, 1, 'backup refuses');
    assert.equal((await hafw('ruleset', 'rollback', '--socket', a!.socket, 'x')).code, 2);
    const hj = JSON.parse((await hafw('ruleset', 'history', '--json', '--socket', b!.socket)).out) as { versions: { version: number }[]; current: { version: number } };
    assert.equal(hj.current.version, 3);
  });

  it('show --cluster prints the version, writer and every node; apply --replace replaces the whole ruleset', async () => {
    const [a, b] = nodes;
    const file = path.join(dir, 'whole.nft');
    writeFileSync(file, BASE.replace('policy accept', 'policy drop'));
    const r = await hafw('ruleset', 'apply', '--replace', '--socket', a!.socket, '-f', file);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^ok: ruleset replaced, generation \d+, version 4$/m);
    const until = Date.now() + 3000;
    while (b!.cluster.dist.currentVersion() !== 4 && Date.now() < until) await new Promise((res) => setTimeout(res, 10));
    const s = await hafw('ruleset', 'show', '--cluster', '--socket', b!.socket);
    assert.equal(s.code, 0, s.err);
    assert.match(s.out, /^version 4 {2}hash [0-9a-f]{12} {2}ready {2}no drift$/m);
    assert.match(s.out, /^writer {2}fwa$/m);
    assert.match(s.out, /^\* fwb +backup +4 /m);
    assert.match(s.out, /^ {2}fwa +master +4 /m);
    assert.match(b!.engine.list(), /policy drop/);
  });

  it('has --help on the new subcommands', async () => {
    for (const sub of ['diff', 'history', 'rollback']) {
      const r = await hafw('ruleset', sub, '--help');
      assert.equal(r.code, 0, sub);
      assert.match(r.out, new RegExp(`^usage: hafw ruleset ${sub}`), sub);
    }
    assert.match((await hafw('ruleset', '--help')).out, /^ {2}rollback +restore an earlier version/m);
  });
});
