/**
 * `hafw ruleset apply 'reset counters ...'` and `hafw ruleset show counters ...`: nft
 * 1.0.6's object commands through the real command line, against a node's API.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { RulesetEngine } from '../ruleset/index.js';
import { RulesetService } from '../daemon/ruleset-service.js';
import { registerRulesetRoutes } from '../api/ruleset-routes.js';

const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'main.js');

const BASE = `table inet filter {
  counter web { packets 7 bytes 700 }
  quota q { over 1 mbytes used 512 bytes }
  chain forward { type filter hook forward priority 0; policy accept; tcp dport 80 counter name "web"; }
}
`;

describe('hafw ruleset apply reset counters / show counters (nft 1.0.6 object commands)', () => {
  let dir: string;
  let launcher: string;
  let socket: string;
  let app: FastifyInstance;
  let engine: RulesetEngine;
  const quiet = { info: () => undefined, error: () => undefined };

  function hafw(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    return new Promise((resolve) => {
      execFile(process.execPath, [launcher, ...args], { encoding: 'utf8', env: { ...process.env, HAFW_RUN_DIR: '/nonexistent-hafw-test' } }, (err, out, errOut) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out, err: errOut });
      });
    });
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hafw-objects-cli-'));
    launcher = path.join(dir, 'hafw.mjs');
    writeFileSync(launcher, `import(${JSON.stringify(ENTRY)}).then((m) => m.main(process.argv.slice(2))).then((c) => { process.exitCode = c; });\n`);
    engine = new RulesetEngine();
    engine.load(BASE, 'base.nft');
    app = Fastify();
    registerRulesetRoutes(app, new RulesetService(engine, async () => ({ ok: true }), quiet));
    socket = path.join(dir, 'api.sock');
    await app.listen({ path: socket });
  });

  after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('show counters lists the named counters as nft list counters does; reset prints them and zeroes them', async () => {
    const shown = await hafw('ruleset', 'show', '--socket', socket, 'counters', 'table', 'inet', 'filter');
    assert.deepEqual(shown, { code: 0, out: 'table inet filter {\n\tcounter web {\n\t\tpackets 7 bytes 700\n\t}\n}\n', err: '' });
    const gen = engine.generation;
    const reset = await hafw('ruleset', 'apply', '--socket', socket, 'reset', 'counter', 'inet', 'filter', 'web');
    assert.deepEqual(reset, { code: 0, out: 'table inet filter {\n\tcounter web {\n\t\tpackets 7 bytes 700\n\t}\n}\n', err: '' });
    assert.match((await hafw('ruleset', 'show', '--socket', socket, 'counter', 'inet', 'filter', 'web')).out, /packets 0 bytes 0/);
    assert.match((await hafw('ruleset', 'apply', '--socket', socket, 'reset quotas inet')).out, /quota q \{\n\t\tover 1 mbytes used 512 bytes\n/);
    assert.match((await hafw('ruleset', 'show', '--socket', socket)).out, /quota q \{\n\t\tover 1 mbytes\n/);
    assert.equal(engine.generation, gen, 'not a ruleset change');
  });

  it('refuses with the place: an unknown table, mixing with changes, reset rules', async () => {
    const unknown = await hafw('ruleset', 'apply', '--socket', socket, 'reset counters table inet nope');
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /^<command>:1:1: no table inet nope/);
    const file = path.join(dir, 'mixed.nft');
    writeFileSync(file, 'add rule inet filter forward tcp dport 22 accept\nreset counters\n');
    const mixed = await hafw('ruleset', 'apply', '--socket', socket, '-f', file);
    assert.equal(mixed.code, 1);
    assert.match(mixed.err, /^<command>:2:1: 'reset counters' goes alone/);
    assert.match((await hafw('ruleset', 'apply', '--socket', socket, 'reset rules')).err, /nft 1\.0\.6 has no 'reset rules'/);
    assert.equal((await hafw('ruleset', 'show', '--socket', socket, 'rules')).code, 2);
  });

  it('documents them in --help', async () => {
    assert.match((await hafw('ruleset', 'apply', '--help')).out, /reset counters\|quotas \[FAMILY \| table \[FAMILY\] TABLE\]/);
    assert.match((await hafw('ruleset', 'show', '--help')).out, /hafw ruleset show counters\|quotas\|limits \[FAMILY \| table \[FAMILY\] TABLE\]/);
  });
});
