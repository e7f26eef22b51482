import assert from 'node:assert/strict';
import { TARGETS } from './targets/index.js';
import { corpusFiles, knownSlug } from './corpus.js';
import { execute } from './execute.js';
import type { FuzzRunner } from './target.js';

// Every input in fuzz/corpus/<target>/ (the crashers the fuzzers found, and inputs that
// showed new behaviour) goes through its target again: a refusal must be the target's clean
// one, and each must finish within the target's bound. A `known-<slug>-` file belongs to a
// fix being made elsewhere: pending until its target stops listing the slug.
describe('fuzz corpus replay', function () {
  this.timeout(120_000);
  for (const target of TARGETS) {
    const files = corpusFiles(target.name);
    if (files.length === 0) continue;
    describe(`${target.name} (${files.length} inputs)`, () => {
      let runner: FuzzRunner;
      before(async () => {
        runner = await target.setup();
      });
      after(async () => runner?.close?.());
      for (const f of files) {
        const slug = knownSlug(f.name);
        const known = slug === undefined ? undefined : target.known?.find((k) => k.slug === slug);
        if (known) {
          it.skip(`${f.name} is handled cleanly (pending: ${known.reason})`, () => undefined);
          continue;
        }
        it(`${f.name} is handled cleanly`, async () => {
          const bound = target.timeoutMs ?? 2000;
          const t0 = performance.now();
          const out = await execute(runner, f.bytes);
          const ms = performance.now() - t0;
          assert.ok(!out.crash, out.crash ? `${out.signature}\n${out.error.stack ?? out.error.message}` : '');
          assert.ok(ms < bound, `took ${ms.toFixed(0)} ms, bound ${bound} ms`);
        });
      }
    });
  }
});
