import assert from 'node:assert/strict';
import { RulesetEngine } from './engine.js';
import { RulesetError } from './errors.js';
import { FULL_RULESET } from './test-rulesets.js';
import { convertRuleset } from './check.js';

function errorAt(text: string): { line: number; col: number; message: string } {
  try {
    new RulesetEngine().load(text, 'f.nft');
  } catch (e) {
    if (e instanceof RulesetError) return e.errors[0];
    throw e;
  }
  throw new Error('expected an error');
}

describe('parser and printer', () => {
  it('prints a ruleset that parses back to the same JSON (print -> parse)', () => {
    const a = new RulesetEngine();
    a.load(FULL_RULESET, 'full.nft');
    const printed = a.list();
    const b = new RulesetEngine();
    b.load(printed, 'printed.nft');
    assert.deepEqual(b.toJSON(), a.toJSON());
    assert.equal(b.list(), printed);
  });

  it('converts text -> JSON -> text without loss (round trip)', () => {
    const json = convertRuleset(FULL_RULESET, 'json');
    const text = convertRuleset(json, 'nft');
    const direct = convertRuleset(FULL_RULESET, 'nft');
    assert.equal(text, direct);
    assert.equal(convertRuleset(text, 'json'), json);
  });

  it('writes matches in the libnftables JSON shape', () => {
    const e = new RulesetEngine();
    e.load('table inet t { chain c { ip saddr 10.0.0.0/8 tcp dport { 22, 80 } ct state established,related accept } }');
    const rule = e.toJSON().nftables.find((x) => 'rule' in x) as { rule: { expr: unknown[] } };
    assert.deepEqual(rule.rule.expr, [
      { match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: { prefix: { addr: '10.0.0.0', len: 8 } } } },
      { match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: { set: [22, 80] } } },
      { match: { op: 'in', left: { ct: { key: 'state' } }, right: ['established', 'related'] } },
      { accept: null },
    ]);
  });

  it('substitutes define variables, including sets', () => {
    const e = new RulesetEngine();
    e.load('define ports = { 22, 80 }\ndefine net = 10.0.0.0/8\ntable ip t { chain c { ip saddr $net tcp dport $ports accept } }');
    assert.match(e.list(), /ip saddr 10\.0\.0\.0\/8 tcp dport \{ 22, 80 \} accept/);
  });

  it('accepts nft commands (add table/chain/rule/set/element, insert, flush)', () => {
    const e = new RulesetEngine();
    e.load(
      [
        'add table inet t',
        'add chain inet t c { type filter hook forward priority 0; policy drop; }',
        'add set inet t s { type inet_service; }',
        'add element inet t s { 22, 25 }',
        'add rule inet t c tcp dport @s accept',
        'insert rule inet t c ct state invalid drop',
      ].join('\n'),
    );
    const l = e.list();
    assert.match(l, /policy drop;\n\t\tct state invalid drop\n\t\ttcp dport @s accept/);
    assert.match(l, /elements = \{ 22,\s+25 \}/);
  });

  it('reports syntax errors with line and column', () => {
    const err = errorAt('table ip t {\n  chain c {\n    ip saddr 10.0.0.300 drop\n  }\n}');
    assert.equal(err.line, 3);
    assert.equal(err.col, 14);
    assert.match(err.message, /not a valid IPv4 address/);
  });

  it('reports an unknown match or statement at its word', () => {
    const err = errorAt('table ip t {\n  chain c {\n    tcp dport 22 frobnicate\n  }\n}');
    assert.deepEqual([err.line, err.col], [3, 18]);
    assert.match(err.message, /unknown match or statement 'frobnicate'/);
  });

  it('reports an unknown field after a known protocol', () => {
    const err = errorAt('table ip t { chain c { ip evil 4 drop } }');
    assert.deepEqual([err.line, err.col], [1, 27]);
    assert.match(err.message, /unknown field 'evil' after 'ip'/);
  });

  it('reports a bad port, a bad prefix length and an undefined variable where they are', () => {
    assert.deepEqual(
      [errorAt('table ip t { chain c { tcp dport 70000 drop } }')].map((e) => [e.col, /out of range/.test(e.message)]),
      [[34, true]],
    );
    assert.match(errorAt('table ip t { chain c { ip saddr 10.0.0.0/33 drop } }').message, /prefix length/);
    const u = errorAt('table ip t {\n chain c { ip saddr $nope drop } }');
    assert.deepEqual([u.line, u.col, /undefined variable/.test(u.message)], [2, 21, true]);
  });

  it('refuses a prefix with host bits set', () => {
    assert.match(errorAt('table ip t { chain c { ip saddr 10.0.0.1/8 drop } }').message, /host bits/);
  });
});
