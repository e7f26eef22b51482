import assert from 'node:assert/strict';
import { RulesetEngine } from './engine.js';
import { DEFAULT_LIMITS } from './limits.js';
import { defineBomb } from './test-rulesets.js';
import { refusalError as refusal } from './test-refusal.js';

const BASE = 'table inet keep { chain c { type filter hook forward priority 0; tcp dport 22 accept } }\n';

describe('ruleset limits (size and cost caps)', () => {
  it('refuses the nested-define bomb in < 100 ms with the place of the define use that overflowed, and keeps the ruleset', () => {
    const text = defineBomb();
    assert.ok(text.length < 1024);
    const e = new RulesetEngine();
    e.load(BASE, 'base.nft');
    const before = e.list();
    const t0 = performance.now();
    const err = refusal(() => e.load(text, 'bomb.nft'));
    const ms = performance.now() - t0;
    assert.ok(ms < 100, `refused in ${ms.toFixed(1)} ms`);
    // Line 16: `define a15 = { $a14, $a14 }`, col 16 the first `$a14` (the use whose copy would cross the cap).
    assert.match(err.message, /^bomb\.nft:16:16: variable expansion too large: \$a14 .*more than 262144 tokens \(ruleset\.maxExpandedTokens/);
    assert.equal(e.generation, 1);
    assert.equal(e.list(), before);
  });

  it('still expands defines of ordinary size, many times over', () => {
    const els = Array.from({ length: 500 }, (_, i) => `198.18.${i >> 8}.${i & 255}`).join(', ');
    const rules = Array.from({ length: 200 }, (_, i) => `    ip saddr $many tcp dport ${i + 1} drop`).join('\n');
    const e = new RulesetEngine();
    e.load(`define many = { ${els} }\ntable inet t {\n  chain c {\n${rules}\n  }\n}\n`, 'ok.nft');
    assert.equal(e.counts().rules, 200);
    // The same text refused under a smaller cap, at the use that crossed it.
    const err = refusal(() => new RulesetEngine({ limits: { maxExpandedTokens: 10_000 } }).load(`define many = { ${els} }\ntable inet t {\n  chain c {\n${rules}\n  }\n}\n`, 'ok.nft'));
    assert.match(err.message, /^ok\.nft:13:14: variable expansion too large: \$many/);
  });

  it('refuses a text over ruleset.maxBytes before reading it, and changes nothing', () => {
    const e = new RulesetEngine({ limits: { maxBytes: 4096 } });
    e.load(BASE, 'base.nft');
    const pad = `# ${'x'.repeat(4096 - BASE.length - 3)}\n`;
    assert.equal(Buffer.byteLength(BASE + pad), 4096);
    e.load(BASE + pad, 'exact.nft');
    const err = refusal(() => e.load(BASE + pad + '\n', 'big.nft'));
    assert.match(err.message, /^big\.nft:1:1: ruleset text is 4097 bytes, more than ruleset\.maxBytes \(4 KiB\)/);
    // Counted in UTF-8 bytes, not characters.
    const wide = `# ${'é'.repeat(2100)}\n${BASE}`;
    assert.ok(wide.length < 4096);
    assert.match(refusal(() => e.load(wide, 'wide.nft')).message, /more than ruleset\.maxBytes/);
    assert.match(refusal(() => e.transaction(`add rule inet keep c tcp dport 23 accept # ${'y'.repeat(5000)}`)).message, /more than ruleset\.maxBytes/);
    assert.equal(e.generation, 2);
  });

  it('refuses more set elements than ruleset.maxElements, in all sets together, by load or by transaction, and changes nothing', () => {
    const e = new RulesetEngine({ limits: { maxElements: 100 } });
    const els = (n: number, from = 0): string => Array.from({ length: n }, (_, i) => String(from + i + 1)).join(', ');
    const text = `table inet t {\n  set a { type inet_service; elements = { ${els(60)} } }\n  set b {\n    type inet_service\n    elements = { ${els(40)} }\n  }\n}\n`;
    e.load(text, 'ok.nft');
    assert.equal(e.elementCount(), 100);
    const over = text.replace(`elements = { ${els(40)} }`, `elements = { ${els(41)} }`);
    const err = refusal(() => e.load(over, 'over.nft'));
    // Named at the largest set of the batch, where an operator looks first.
    assert.equal(err.message, "over.nft:2:7: set 'a' (60 elements): the ruleset would hold 101 set elements, more than ruleset.maxElements (100); nothing was changed");
    assert.equal(e.elementCount(), 100);
    // One more by transaction: refused; one out and one in: fine; re-adding a present one: fine.
    assert.match(refusal(() => e.transaction('add element inet t b { 1000 }')).message, /would hold 101 set elements/);
    e.transaction('delete element inet t a { 1 }\nadd element inet t b { 1000 }');
    e.transaction('add element inet t b { 1000 }');
    assert.equal(e.elementCount(), 100);
    // JSON commands go through the same check.
    assert.match(refusal(() => e.transaction([{ add: { element: { family: 'inet', table: 't', name: 'a', elem: [5000] } } }] as never)).message, /would hold 101 set elements/);
    assert.equal(e.elementCount(), 100);
  });

  it('has defaults that let a full-size blocklist through a define', () => {
    const n = DEFAULT_LIMITS.maxElements;
    const els = Array.from({ length: n }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`).join(',');
    const text = `define block = { ${els} }\ntable ip t { set s { type ipv4_addr; elements = $block } }\n`;
    assert.ok(Buffer.byteLength(text) <= DEFAULT_LIMITS.maxBytes, `${Buffer.byteLength(text)} bytes`);
    const e = new RulesetEngine();
    e.load(text, 'block.nft');
    assert.equal(e.elementCount(), n);
  });
});
