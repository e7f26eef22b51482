import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TARGETS } from './targets/index.js';
import { fuzzFindings } from './pass.js';

// CI's bounded fuzzing pass (part of `npm test`): every target in turn, seeded, about 25 s in
// all (HAFW_FUZZ_SECONDS: the total; HAFW_FUZZ_SEED: another seed). New findings are saved
// in a scratch folder named in the failure, with their stacks; `npm run fuzz` runs longer.
describe('fuzzing: a short bounded pass over every target', function () {
  const total = Number(process.env.HAFW_FUZZ_SECONDS ?? 25);
  const seed = Number(process.env.HAFW_FUZZ_SEED ?? 1) >>> 0;
  this.timeout((total + 120) * 1000);

  it(`finds no crash, hang or memory blowup that is not already known (seed ${seed}, ${total} s)`, async () => {
    const saveDir = mkdtempSync(path.join(tmpdir(), 'hafw-fuzz-'));
    const r = await fuzzFindings({ targets: TARGETS, secondsEach: total / TARGETS.length, seed, saveDir });
    for (const run of r.runs) assert.ok(run.execs > 0, `${run.target} ran no input`);
    assert.deepEqual(
      r.fresh.map((f) => `${f.target} ${f.finding.kind} ${f.finding.signature}\n  saved ${f.file}\n  ${f.finding.error?.stack?.split('\n').slice(0, 6).join('\n  ') ?? ''}`),
      [],
      'copy the saved input to fuzz/corpus/<target>/ with the fix, so the corpus replay keeps it fixed',
    );
  });
});
