import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineBomb } from '../ruleset/test-rulesets.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/hafw.js');

function check(file: string): { code: number | null; json: { ok: boolean; ms: number; errors: { line: number; col: number; message: string }[] } } {
  // Capped heap: the unfixed parser needed gigabytes here; a crash must fail the test quickly,
  // not swap. Its memory is measured by the bench (limits-bomb-peak-rss).
  const r = spawnSync(process.execPath, ['--max-old-space-size=512', BIN, 'ruleset', 'check', '--json', file], { encoding: 'utf8', timeout: 60_000 });
  assert.ok(r.stdout.startsWith('{'), `no JSON answer; stderr: ${r.stderr.slice(0, 500)}`);
  return { code: r.status, json: JSON.parse(r.stdout) };
}

describe('hafw ruleset check: the define bomb', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hafw-bomb-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses the 1 KB nested-define bomb in < 100 ms, naming file:line:col', () => {
    const bomb = path.join(dir, 'bomb.nft');
    writeFileSync(bomb, defineBomb(30));
    const tiny = path.join(dir, 'tiny.nft');
    writeFileSync(tiny, 'table inet t { chain c { accept } }\n');
    const base = check(tiny);
    assert.equal(base.json.ok, true);
    const r = check(bomb);
    assert.equal(r.code, 1);
    assert.equal(r.json.ok, false);
    assert.deepEqual([r.json.errors[0]!.line, r.json.errors[0]!.col], [16, 16]);
    assert.match(r.json.errors[0]!.message, /variable expansion too large: \$a14/);
    assert.ok(r.json.ms < 100, `parse took ${r.json.ms} ms`);
  });
});
