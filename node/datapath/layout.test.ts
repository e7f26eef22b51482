import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

// Reads the compiled files next to this one: type-only imports are gone there, so what is
// left is what a thread actually loads.
const here = path.dirname(fileURLToPath(import.meta.url));
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g;

function runtimeImports(folder: string): { file: string; spec: string }[] {
  const out: { file: string; spec: string }[] = [];
  for (const f of readdirSync(path.join(here, folder))) {
    // Tests may reach across (a worker test replays a capture through control/replay.ts).
    if (!f.endsWith('.js') || f.endsWith('.test.js')) continue;
    const text = readFileSync(path.join(here, folder, f), 'utf8');
    for (const m of text.matchAll(IMPORT)) out.push({ file: `${folder}/${f}`, spec: m[1]! });
  }
  return out;
}

describe('datapath layout: the folder says the thread', () => {
  it('finds the compiled files it checks', () => {
    assert.ok(runtimeImports('worker').some((i) => i.file === 'worker/worker.js'));
    assert.ok(runtimeImports('control').some((i) => i.file === 'control/datapath-thread.js'));
  });

  it('nothing on the worker thread loads control-thread code', () => {
    assert.deepEqual(runtimeImports('worker').filter((i) => i.spec.startsWith('../control/')), []);
  });

  it('shared/ loads neither side', () => {
    assert.deepEqual(runtimeImports('shared').filter((i) => /^\.\.\/(worker|control)\//.test(i.spec)), []);
  });
});
