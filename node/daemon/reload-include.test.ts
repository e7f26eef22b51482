import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { NodeDaemon } from './daemon.js';
import { parseConfigText } from './config.js';

describe('ruleset.file with includes (start and SIGHUP reload)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hafw-reload-include-'));
    mkdirSync(path.join(dir, 'nft.d'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads included files from ruleset.includePath, sees an edit of one on reload, and logs an included file\'s error at its line:col', async () => {
    const file = path.join(dir, 'rules.nft');
    writeFileSync(file, 'table inet t {\n  chain c {\n    type filter hook forward priority 0;\n    include "nft.d/*.nft"\n  }\n}\n');
    writeFileSync(path.join(dir, 'nft.d', 'a.nft'), 'tcp dport 22 accept\n');
    const lines: string[] = [];
    const log = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) }));
    const config = parseConfigText(`node:\n  name: fwa\napi:\n  socket: ${path.join(dir, 'ctl.sock')}\nruleset:\n  file: ${file}\n  includePath: [${dir}]\n`, 'node.yaml');
    assert.deepEqual(config.ruleset.includePath, [dir]);
    const daemon = new NodeDaemon(config, log);
    await daemon.reload();
    assert.equal(daemon.rules.generation, 1);
    assert.match(daemon.rules.list(), /tcp dport 22 accept/);

    writeFileSync(path.join(dir, 'nft.d', 'b.nft'), 'tcp dport 443 accept\n');
    await daemon.reload();
    assert.equal(daemon.rules.generation, 2);
    assert.match(daemon.rules.list(), /tcp dport 22 accept\n\t\ttcp dport 443 accept/);

    writeFileSync(path.join(dir, 'nft.d', 'b.nft'), '\ntcp dport 443 acept\n');
    await daemon.reload();
    assert.equal(daemon.rules.generation, 2);
    const rejected = lines.map((l) => JSON.parse(l) as { event?: string; err?: string }).find((l) => l.event === 'ruleset.reloadRejected');
    assert.ok(rejected, lines.join(''));
    assert.equal(rejected.err, `${path.join(dir, 'nft.d', 'b.nft')}:2:15: unknown match or statement 'acept'`);
  });

  it('refuses a relative include directory in the config', () => {
    assert.throws(() => parseConfigText('node:\n  name: fwa\nruleset:\n  includePath: [etc]\n', 'node.yaml'), /includePath/);
    assert.deepEqual(parseConfigText('node:\n  name: fwa\n', 'node.yaml').ruleset.includePath, ['/etc']);
  });
});
