import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import { startControlServer, type NodeStatus } from '../api/index.js';
import type { CtImportEntry } from '../conntrack/index.js';
import { splitDump } from './ct-import-cmd.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(HERE, '../../../bin/hafw.js');
// The CLI of the tree this test was compiled into, not dist/.
const DIST = path.resolve(HERE, '../..');
const status: NodeStatus = { node: 'fw', role: 'standalone', pid: 1, uptimeSeconds: 1, datapath: { tun: 'hafw0', offloads: true, vnetHdrLen: 10, counters: {}, native: {} } };
const ok = (sport: number) => `ipv4     2 tcp      6 431999 ESTABLISHED src=192.0.2.100 dst=198.51.100.100 sport=${sport} dport=5001 src=198.51.100.100 dst=192.0.2.100 sport=5001 dport=${sport} [ASSURED] mark=0 use=1`;

describe('hafw ct import (CLI against a node\'s control socket)', function () {
  this.timeout(30000);
  let dir: string;
  let app: FastifyInstance;
  let sock: string;
  const received: CtImportEntry[][] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hafw-ctimport-'));
    sock = path.join(dir, 'control.sock');
    app = await startControlServer({
      status: () => status,
      metrics: new Registry(),
      control: {
        async ctImport(entries) {
          received.push(entries);
          return { imported: entries.length, existing: 0, refused: 0, nat: 0, existingLines: [], refusedLines: [] };
        },
      },
    }, sock, pino({ level: 'silent' }));
  });
  after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => (received.length = 0));

  function hafw(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    return new Promise((resolve) => {
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HAFW_')));
      execFile(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...env, HAFW_DIST: DIST, HAFW_RUN_DIR: '/nonexistent-hafw-test' } }, (err, out, errOut) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out, err: errOut });
      });
    });
  }
  const file = (name: string, text: string): string => {
    const f = path.join(dir, name);
    writeFileSync(f, text);
    return f;
  };

  it('imports a dump and says how many, like conntrack does', async () => {
    const f = file('good.txt', `${ok(40000)}\n${ok(40001)}\nconntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.\n`);
    const r = await hafw('ct', 'import', f, '--socket', sock);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /hafw ct: 2 flow entries have been imported \(0 with NAT\), 0 were there already, 0 bad lines skipped, 0 refused\./);
    assert.deepEqual(received.map((x) => x.map((e) => e.original.sport)), [[40000, 40001]]);
  });

  it('a bad line: FILE:LINE and why, exit 1, and nothing is sent to the node', async () => {
    const f = file('bad.txt', `${ok(40000)}\n${ok(40001).replace('sport=5001 dport=40001', 'sport=5001')}\n${ok(40002)}\n`);
    const r = await hafw('ct', 'import', f, '--socket', sock);
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`${f.replace(/[.]/g, '\\.')}:2: the reply tuple lacks dport=`));
    assert.match(r.err, /1 bad line\(s\) in .*, nothing imported \(--skip-bad imports the other 2\)/);
    assert.equal(received.length, 0);
    const j = await hafw('ct', 'import', f, '--socket', sock, '--json');
    assert.equal(j.code, 1);
    assert.deepEqual((JSON.parse(j.out) as { errors: { line: number }[] }).errors.map((e) => e.line), [2]);
  });

  it('--skip-bad imports the other lines and lists the skipped one; --json gives the totals', async () => {
    const f = file('bad2.txt', `${ok(40000)}\nnonsense here\n${ok(40002)}\n`);
    const r = await hafw('ct', 'import', f, '--skip-bad', '--json', '--socket', sock);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as { imported: number; skipped: number; errors: { line: number }[] };
    assert.equal(j.imported, 2);
    assert.equal(j.skipped, 1);
    assert.deepEqual(j.errors.map((e) => e.line), [2]);
    assert.deepEqual(received[0]!.map((e) => e.line), [1, 3]);
  });

  it('reads standard input with -; a missing file is named; an unknown subcommand is a usage error', async () => {
    const missing = await hafw('ct', 'import', path.join(dir, 'nope.txt'), '--socket', sock);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /nope\.txt: no such file/);
    const two = await hafw('ct', 'import', 'a', 'b', '--socket', sock);
    assert.equal(two.code, 2);
    const stdin = await new Promise<{ code: number; out: string }>((resolve) => {
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HAFW_')));
      const c = execFile(process.execPath, [BIN, 'ct', 'import', '-', '--socket', sock], { encoding: 'utf8', env: { ...env, HAFW_DIST: DIST } }, (err, out) => resolve({ code: err ? 1 : 0, out }));
      c.stdin!.end(`${ok(40005)}\n`);
    });
    assert.equal(stdin.code, 0);
    assert.match(stdin.out, /1 flow entries have been imported/);
  });

  it('sends a long dump in parts, each numbered from its first line', () => {
    const lines = Array.from({ length: 6001 }, (_, i) => ok(i % 60000));
    const parts = splitDump(lines.join('\n'));
    assert.deepEqual(parts.map((p) => p.firstLine), [1, 2501, 5001]);
    assert.equal(parts.map((p) => p.text.split('\n').length).reduce((a, b) => a + b), 6001);
    // Long lines: the size cap cuts first (512 KiB a part).
    const long = splitDump(Array.from({ length: 2000 }, () => 'x'.repeat(1000)).join('\n'));
    assert.deepEqual(long.map((p) => p.firstLine), [1, 524, 1047, 1570]);
  });
});
