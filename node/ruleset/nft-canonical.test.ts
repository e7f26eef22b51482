/**
 * `hafw ruleset show` prints nft's canonical form: for a corpus of rulesets
 * (testdata/nft-1.0.6/canonical/NAME.nft), what Debian's nft 1.0.6 listed with
 * `nft -a list ruleset` after `nft -f NAME.nft` (NAME.list, recorded unchanged) is what
 * hafw lists after loading the same file, byte for byte, handles included; without `-a`
 * the same minus the handle comments. nft's listing loads back into hafw and lists the
 * same again. cluster-tests/nft-canonical.lab.test.ts re-records the listings live.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RulesetEngine } from './engine.js';

// Tests run from dist/node/ruleset; the corpus stays in the source tree.
const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../node/ruleset/testdata/nft-1.0.6/canonical');
const NAMES = readdirSync(DIR).filter((f) => f.endsWith('.list')).map((f) => f.slice(0, -'.list'.length)).sort();

const withoutHandles = (text: string): string => text.replace(/ # handle \d+$/gm, '');

describe('hafw lists rulesets as nft 1.0.6 does (canonical form)', () => {
  const identical: string[] = [];
  after(() => console.log(`      nft 1.0.6 conformance: ${identical.length} of ${NAMES.length} rulesets list identically (${NAMES.filter((n) => !identical.includes(n)).join(', ') || 'no difference'})`));

  it('has a corpus', () => assert.ok(NAMES.length >= 15, NAMES.join(',')));

  for (const name of NAMES) {
    it(`${name}: hafw's listing is nft's, with and without handles; nft's listing loads back unchanged`, () => {
      const input = readFileSync(path.join(DIR, `${name}.nft`), 'utf8');
      const nft = readFileSync(path.join(DIR, `${name}.list`), 'utf8');
      const e = new RulesetEngine();
      e.load(input, `${name}.nft`);
      assert.equal(e.list({ handles: true }), nft);
      assert.equal(e.list(), withoutHandles(nft));
      const again = new RulesetEngine();
      again.load(nft, `${name}.list`);
      // A listing numbers as nft -f numbers it (chains, objects, sets, rules): the same handles.
      assert.equal(again.list({ handles: true }), nft);
      identical.push(name);
    });
  }
});
