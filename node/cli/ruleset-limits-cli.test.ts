import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineBomb } from '../ruleset/test-rulesets.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/hafw.js');
/** Preloaded into the CLI: prints the process's peak RSS (KiB) on stderr as it exits. */
const PEAK_RSS = `data:text/javascript,process.on('exit',()=>process.stderr.write('maxrss='+process.resourceUsage().maxRSS+'\\n'))`;

function check(file: string): { code: number | null; json: { ok: boolean; ms: number; errors: { line: number; col: number; message: string }[] }; maxRssKiB: number } {
  // Capped heap: the unfixed parser needed gigabytes here; a crash must fail the test quickly, not swap.
  const r = spawnSync(process.execPath, ['--max-old-space-size=512', '--import', PEAK_RSS, BIN, 'ruleset', 'check', '--json', file], { encoding: 'utf8', timeout: 60_000 });
  const m = /maxrss=(\d+)/.exec(r.stderr);
  assert.ok(m, `no peak RSS reported; stderr: ${r.stderr.slice(0, 500)}`);
  return { code: r.status, json: JSON.parse(r.stdout), maxRssKiB: Number(m[1]) };
}

describe('hafw ruleset check: the define bomb', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hafw-bomb-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses the 1 KB nested-define bomb in < 100 ms and < 100 MB, naming file:line:col', () => {
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
    const extraMiB = (r.maxRssKiB - base.maxRssKiB) / 1024;
    assert.ok(extraMiB < 100, `peak RSS ${extraMiB.toFixed(0)} MiB above a tiny ruleset's`);
  });
});
