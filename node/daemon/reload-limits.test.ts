import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { NodeDaemon } from './daemon.js';
import { parseConfigText } from './config.js';
import { defineBomb } from '../ruleset/test-rulesets.js';

const GOOD = 'table inet keep { chain c { type filter hook forward priority 0; tcp dport 22 accept } }\n';

describe('SIGHUP reload of a define bomb', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hafw-reload-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is refused in < 100 ms without stalling the control thread; the node keeps its ruleset and logs the place', async () => {
    const file = path.join(dir, 'rules.nft');
    writeFileSync(file, GOOD);
    const lines: string[] = [];
    const log = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) }));
    const daemon = new NodeDaemon(parseConfigText(`node:\n  name: fwa\napi:\n  socket: ${path.join(dir, 'ctl.sock')}\nruleset:\n  file: ${file}\n`, 'node.yaml'), log);
    await daemon.reload();
    assert.equal(daemon.rules.generation, 1);
    const before = daemon.rules.list();

    writeFileSync(file, defineBomb(30));
    // What a VRRP timer on this thread would see: the longest gap of a 5 ms timer.
    let last = performance.now();
    let gap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      gap = Math.max(gap, now - last);
      last = now;
    }, 5);
    const t0 = performance.now();
    await daemon.reload();
    const ms = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 20));
    clearInterval(timer);
    assert.ok(ms < 100, `reload took ${ms.toFixed(1)} ms`);
    assert.ok(gap < 100, `the control thread stalled ${gap.toFixed(1)} ms`);
    assert.equal(daemon.rules.generation, 1);
    assert.equal(daemon.rules.list(), before);
    const rejected = lines.map((l) => JSON.parse(l) as { event?: string; err?: string }).find((l) => l.event === 'ruleset.reloadRejected');
    assert.ok(rejected, lines.join(''));
    assert.match(rejected.err!, new RegExp(`^${file.replace(/[.]/g, '\\.')}:16:16: variable expansion too large`));
  });
});
