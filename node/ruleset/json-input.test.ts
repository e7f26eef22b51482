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

  it('refuses a set whose "map" is not a type name (was a TypeError in the data type lookup)', () => {
    const e = errorOf(JSON.stringify({ nftables: [
      { table: { family: 'inet', name: 't' } },
      { set: { family: 'inet', table: 't', name: 'seen', type: 'ipv4_addr', map: 65535 } },
    ] }, null, 1));
    assert.match(e.message, /"map" must be the data type's name/);
    assert.ok(e.line > 1);
  });

  it('refuses a chain type other than filter, nat or route, as the text form does', () => {
    const e = errorOf(JSON.stringify({ nftables: [
      { table: { family: 'inet', name: 't' } },
      { chain: { family: 'inet', table: 't', name: 'c', type: 'established', hook: 'forward', prio: 0, policy: 'drop' } },
    ] }, null, 1));
    assert.match(e.message, /type must be one of filter, nat, route/);
    assert.ok(e.line > 1);
  });

  it('refuses a table, chain or set name the text form cannot read back, and keeps the names it can', () => {
    const doc = (chain: string): string => JSON.stringify({ nftables: [
      { table: { family: 'ip', name: 'nat' } },
      { chain: { family: 'ip', table: 'nat', name: chain, type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' } },
    ] }, null, 1);
    const e = errorOf(doc('pr%'));
    assert.match(e.message, /"name" "pr%" is not a name the text form can read/);
    assert.ok(e.line > 1, 'at the chain object, not the document');
    assert.match(errorOf(doc('$x')).message, /not a name/);
    assert.match(errorOf(doc('a b')).message, /not a name/);
    for (const name of ['pre', 'a.b-c/d', '_x', 'a:b']) {
      const engine = new RulesetEngine();
      engine.load(doc(name), 'f.json');
      const again = new RulesetEngine();
      again.load(engine.list(), 'f.nft');
      assert.equal(again.list(), engine.list(), name);
    }
  });

  it('refuses an element or set timeout that is not a number of seconds, and keeps one that is', () => {
    const doc = (setTimeout: unknown, elemTimeout: unknown): string => JSON.stringify({ nftables: [
      { table: { family: 'inet', name: 'filter' } },
      { set: { family: 'inet', table: 'filter', name: 'blocked', type: 'ipv4_addr', flags: ['timeout'], ...(setTimeout === undefined ? {} : { timeout: setTimeout }),
        elem: [{ elem: { val: '192.0.2.99', ...(elemTimeout === undefined ? {} : { timeout: elemTimeout }) } }] } },
    ] }, null, 1);
    assert.match(errorOf(doc(undefined, 'counter')).message, /elem\/0\/elem: "timeout" must be a number of seconds/);
    assert.match(errorOf(doc(undefined, -5)).message, /"timeout" must be a number of seconds/);
    assert.match(errorOf(doc('1m', undefined)).message, /"timeout" must be a number of seconds/);
    const engine = new RulesetEngine();
    engine.load(doc(60, 30), 'f.json');
    const again = new RulesetEngine();
    again.load(engine.list(), 'f.nft');
    assert.match(again.list(), /timeout 1m/);
  });
});

describe('JSON listing: limits as nft -j writes them', () => {
  // Recorded from Debian's nft 1.0.6 (`nft -j list ruleset` of the text below in a throwaway
  // namespace): a packet limit's default burst of 5 is written out, an explicit one comes
  // right after the rate, a byte limit keeps its units; the same inside a set statement.
  const text = `table inet t {
  set s { type ipv4_addr; flags dynamic; }
  chain c {
    type filter hook forward priority 0;
    limit rate 10/second
    limit rate over 5 mbytes/second
    limit rate 3/minute burst 7 packets
    update @s { ip saddr limit rate over 10/second } drop
  }
}
`;
  const nft106 = [
    [{ limit: { rate: 10, burst: 5, per: 'second' } }],
    [{ limit: { rate: 5, burst: 0, per: 'second', inv: true, rate_unit: 'mbytes', burst_unit: 'bytes' } }],
    [{ limit: { rate: 3, burst: 7, per: 'minute' } }],
    [{ set: { op: 'update', elem: { payload: { protocol: 'ip', field: 'saddr' } }, set: '@s', stmt: [{ limit: { rate: 10, burst: 5, per: 'second', inv: true } }] } }, { drop: null }],
  ];
  const rulesOf = (e: RulesetEngine): unknown[] => e.toJSON().nftables.flatMap((o) => ('rule' in o ? [(o as { rule: { expr: unknown } }).rule.expr] : []));

  it('lists each rule\'s limit byte for byte as nft 1.0.6, keys in its order', () => {
    const e = new RulesetEngine();
    e.load(text, 'limits.nft');
    assert.equal(JSON.stringify(rulesOf(e)), JSON.stringify(nft106));
  });

  it('loads that listing back to the same rules, and the text still leaves the default burst out', () => {
    const a = new RulesetEngine();
    a.load(text, 'limits.nft');
    const b = new RulesetEngine();
    b.load(JSON.stringify(a.toJSON()), 'limits.json');
    assert.equal(b.list(), a.list());
    assert.ok(a.list().includes('limit rate 10/second\n'), a.list());
    assert.ok(!a.list().includes('burst 5 packets'), a.list());
  });
});
