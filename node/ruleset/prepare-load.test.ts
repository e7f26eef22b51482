import assert from 'node:assert/strict';
import { RulesetEngine, RulesetError, StalePrepareError } from './index.js';

const A = 'table inet t {\n  chain c {\n    type filter hook forward priority 0; policy drop;\n    tcp dport 22 accept\n  }\n}\n';
const B = 'table inet t {\n  chain c {\n    type filter hook forward priority 0; policy accept;\n    udp dport 53 accept\n    jump d\n  }\n  chain d {\n    counter drop\n  }\n}\n';

describe('RulesetEngine.prepareLoad (a replace in two steps)', () => {
  it('changes nothing until commit(), which then does what load does', () => {
    const e = new RulesetEngine();
    e.load(A, '<a>');
    const commit = e.prepareLoad(B, '<b>');
    assert.equal(e.generation, 1);
    const onlyA = new RulesetEngine();
    onlyA.load(A);
    assert.equal(e.list(), onlyA.list());
    const r = commit();
    const plain = new RulesetEngine();
    plain.load(A, '<a>');
    const rp = plain.load(B, '<b>');
    assert.equal(r.generation, 2);
    assert.equal(e.list({ handles: true }), plain.list({ handles: true }));
    assert.equal(JSON.stringify(r.changes), JSON.stringify(rp.changes));
  });

  it('refuses at prepare what load refuses, with the same positions', () => {
    const e = new RulesetEngine();
    const bad = 'table inet t {\n  chain c {\n    tcp dport 22 jump nowhere\n  }\n}\n';
    let fromLoad: RulesetError | undefined;
    try {
      new RulesetEngine().load(bad, '<x>');
    } catch (err) {
      fromLoad = err as RulesetError;
    }
    assert.ok(fromLoad instanceof RulesetError);
    assert.throws(() => e.prepareLoad(bad, '<x>'), (err: Error) => err instanceof RulesetError && err.message === fromLoad!.message);
    assert.equal(e.generation, 0);
  });

  it('a prepared load is stale once the engine committed something else', () => {
    const e = new RulesetEngine();
    e.load(A);
    const commit = e.prepareLoad(B);
    e.transaction('add rule inet t c tcp dport 80 accept');
    assert.throws(() => commit(), StalePrepareError);
    assert.match(e.list(), /tcp dport 80 accept/);
    assert.equal(e.generation, 2);
  });

  it('caps bound the reading on an engine that has none', () => {
    const e = new RulesetEngine({ limits: { maxBytes: 1 << 30 } });
    assert.throws(() => e.prepareLoad(B, '<b>', { maxBytes: 64, maxExpandedTokens: 1_000_000 }), /more than ruleset.maxBytes/);
    assert.doesNotThrow(() => e.prepareLoad(B, '<b>'));
  });
});
