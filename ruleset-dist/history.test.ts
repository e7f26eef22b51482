import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { VersionHistory } from './history.js';

describe('ruleset-dist version history', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'hafw-hist-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const entry = (v: number) => ({ version: v, hash: String(v).padStart(64, '0'), text: `rules ${v}\n`, time: 1000 + v, origin: 'fwa', summary: `v${v}` });

  it('keeps the last N versions and comes back with them after a restart', async () => {
    const h = new VersionHistory(3, dir);
    for (let v = 1; v <= 5; v++) await h.add(entry(v));
    assert.deepEqual(h.list().map((e) => e.version), [3, 4, 5]);
    const again = new VersionHistory(3, dir);
    await again.load();
    assert.deepEqual(again.list().map((e) => e.version), [3, 4, 5]);
    assert.equal(again.latest()?.text, 'rules 5\n');
    assert.equal(again.get(4)?.summary, 'v4');
    assert.equal('text' in again.list()[0]!, false, 'listing carries no text');
  });

  it('starts empty without a file and refuses a corrupt one', async () => {
    const h = new VersionHistory(3, dir);
    await h.load();
    assert.equal(h.latest(), undefined);
    writeFileSync(path.join(dir, 'ruleset-history.json'), '{"x":');
    await assert.rejects(() => new VersionHistory(3, dir).load());
  });
});
