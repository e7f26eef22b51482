import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

// The folder is a leaf every other folder may import; an import out of it would make a cycle
// possible and drag node/ into sync-protocol/. Checked on the compiled modules next to this one.
describe('inet library', () => {
  it('imports nothing from the project outside itself (only node: built-ins and ./ siblings)', () => {
    const dir = dirname(fileURLToPath(import.meta.url));
    const files = readdirSync(dir).filter((f) => f.endsWith('.js'));
    assert.ok(files.includes('index.js'));
    for (const f of files) {
      const src = readFileSync(`${dir}/${f}`, 'utf8');
      for (const m of src.matchAll(/\bfrom\s+['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]/g)) {
        const spec = m[1] ?? m[2]!;
        assert.ok(spec.startsWith('node:') || (spec.startsWith('./') && !spec.includes('/', 2)), `${f} imports ${spec}`);
      }
    }
  });
});
