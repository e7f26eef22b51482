import assert from 'node:assert/strict';
import { RulesetEngine } from './engine.js';
import { RulesetError } from './errors.js';

/** The first error of loading `text` (a JSON ruleset), or a failure when it loads. */
function errorOf(text: string): { line: number; col: number; message: string } {
  try {
    new RulesetEngine().load(text, 'f.json');
  } catch (e) {
    if (e instanceof RulesetError) return e.errors[0]!;
    throw e;
  }
  throw new Error('expected an error');
}

// Found by `npm run fuzz -- --target ruleset-json` (fuzz/corpus/ruleset-json/).
describe('JSON rulesets: bad input is a positioned RulesetError', () => {
  it('refuses a bad escape or a raw control character in a string with its place, not a bare SyntaxError', () => {
    const bad = errorOf('{"nftables": [\n  {"table": {"family": "inet", "name": "a\\qb"}}]}');
    assert.equal(bad.line, 2);
    assert.match(bad.message, /escape|string/i);
    const raw = errorOf('{"nftables": [{"table": {"family": "inet", "name": "a\u0001b"}}]}');
    assert.equal(raw.line, 1);
    assert.match(raw.message, /control character|string/i);
  });

  it('refuses a chain type other than filter, nat or route, as the text form does', () => {
    const e = errorOf(JSON.stringify({ nftables: [
      { table: { family: 'inet', name: 't' } },
      { chain: { family: 'inet', table: 't', name: 'c', type: 'established', hook: 'forward', prio: 0, policy: 'drop' } },
    ] }, null, 1));
    assert.match(e.message, /type must be one of filter, nat, route/);
    assert.ok(e.line > 1);
  });
});
