import assert from 'node:assert/strict';
import { RulesetEngine } from './engine.js';
import { RulesetError } from './errors.js';

// A ruleset that loads must print as text that loads back to the same ruleset; what
// cannot is refused at load with its place. Each case here was found by the ruleset-text
// or ruleset-json fuzz target (fuzz/corpus/).

/** The first error of loading `input`, or a failure when it loads. */
function errorOf(input: string | object, file = 'f.nft'): { line: number; col: number; message: string } {
  try {
    new RulesetEngine().load(input, file);
  } catch (e) {
    if (e instanceof RulesetError) return e.errors[0]!;
    throw e;
  }
  throw new Error('expected an error');
}

/** Loads `input`, prints it, loads the print and checks it prints the same; returns the print. */
function reloads(input: string): string {
  const a = new RulesetEngine();
  a.load(input, 'in');
  const printed = a.list();
  const b = new RulesetEngine();
  b.load(printed, 'printed.nft');
  assert.equal(b.list(), printed);
  assert.deepEqual(b.toJSON(), a.toJSON());
  return printed;
}

const json = (...items: object[]): string => JSON.stringify({ nftables: items }, null, 1);
const TABLE = { table: { family: 'inet', name: 't' } };
const CHAIN = { chain: { family: 'inet', table: 't', name: 'c' } };
const rule = (extra: object) => ({ rule: { family: 'inet', table: 't', chain: 'c', expr: [{ accept: null }], ...extra } });

describe('rulesets print as text that loads back the same', () => {
  describe('strings (fuzz: nul-in-string)', () => {
    it('refuses a control character in a quoted string at its place', () => {
      const nul = errorOf('table inet t {\n\tchain c {\n\t\tiifname "lan\0" accept\n\t}\n}');
      assert.deepEqual([nul.line, nul.col], [3, 15]);
      assert.match(nul.message, /control character U\+0000 in a string/);
      const tab = errorOf('table inet t { comment "a\tb" }');
      assert.deepEqual([tab.line, tab.col], [1, 26]);
      assert.match(tab.message, /U\+0009/);
      // A backslash takes the next character as is: that does not let one in.
      assert.match(errorOf('table inet t { comment "a\\\x1bb" }').message, /control character U\+001B/);
      assert.match(errorOf('table inet t { comment "a\x7f" }').message, /control character U\+007F/);
      assert.match(errorOf('table inet t { comment "a\ud800" }').message, /lone surrogate U\+D800/);
    });

    it('prints quotes, backslashes and non-ASCII characters so they load back the same', () => {
      const printed = reloads('table inet t {\n\tcomment "say \\"hi\\" \\\\ caf\u00e9 \u{1f525} \u0085"\n\tchain c {\n\t\tiifname "wg\\\\0" accept comment "\u00ff"\n\t}\n}\n');
      assert.match(printed, /comment "say \\"hi\\" \\\\ café 🔥 \u0085"/);
    });

    it('refuses a JSON string with an escaped control character or lone surrogate, with its JSON pointer', () => {
      const ifname = { match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'lan\u0000' } };
      const e = errorOf(json(TABLE, CHAIN, rule({ expr: [ifname, { accept: null }] })), 'f.json');
      assert.match(e.message, /^\/nftables\/2\/rule\/expr\/0\/match\/right: control character U\+0000 in a string/);
      assert.ok(e.line > 1);
      const surrogate = errorOf('{"nftables": [{"table": {"family": "inet", "name": "t", "comment": "a\\ud800"}}]}', 'f.json');
      assert.match(surrogate.message, /^\/nftables\/0\/table\/comment: lone surrogate U\+D800/);
    });

    it('refuses them in a transaction given as objects (an API body), which no JSON text reader saw', () => {
      const e = new RulesetEngine();
      e.load('table inet t { chain c { } }');
      assert.throws(() => e.transaction([{ add: rule({ comment: 'a\nb' }) }] as never), (x: unknown) => x instanceof RulesetError && /^\/nftables\/0\/rule\/comment: control character U\+000A/.test(x.errors[0]!.message));
      assert.equal(e.toJSON().nftables.filter((x) => 'rule' in x).length, 0);
    });
  });

  describe('chain priorities (fuzz: json-prio-range)', () => {
    const base = (prio: unknown) => ({ chain: { family: 'inet', table: 't', name: 'c', type: 'filter', hook: 'input', prio, policy: 'accept' } });

    it('refuses a JSON "prio" that is not a 32-bit signed integer, with its JSON pointer', () => {
      for (const prio of [-1e23, 0.5, 2147483648, -2147483649]) {
        const e = errorOf(json(TABLE, base(prio)), 'f.json');
        assert.match(e.message, /^\/nftables\/1\/chain: "prio" must be an integer from -2147483648 to 2147483647/, String(prio));
        assert.ok(e.line > 1);
      }
    });

    it('takes the ends of the range, and they print and load back', () => {
      for (const prio of [-2147483648, 2147483647]) {
        const a = new RulesetEngine();
        a.load(json(TABLE, base(prio)), 'f.json');
        assert.match(reloads(a.list()), new RegExp(`priority ${prio};`));
      }
    });

    it('refuses the same in text, with the place, and a name that is only an Object method', () => {
      const big = errorOf('table inet t {\n\tchain c {\n\t\ttype filter hook input priority 1000000000000000000000; }\n}');
      assert.deepEqual([big.line, big.col], [3, 35]);
      assert.match(big.message, /priority must be an integer from -2147483648 to 2147483647/);
      assert.match(errorOf('table inet t { chain c { type filter hook input priority filter + 2147483648; } }').message, /priority must be/);
      assert.match(errorOf('table inet t { chain c { type filter hook input priority toString; } }').message, /unknown priority 'toString'/);
      assert.match(reloads('table inet t { chain c { type filter hook input priority raw - 2147483348; } }'), /priority -2147483648;/);
    });
  });

  describe('comments (fuzz: json-comment-type)', () => {
    it('refuses a JSON comment that is not a string, on a table, chain, set, rule or element', () => {
      const cases: [object[], RegExp][] = [
        [[{ table: { family: 'inet', name: 't', comment: 1 } }], /^\/nftables\/0\/table: "comment" must be a string/],
        [[TABLE, { chain: { family: 'inet', table: 't', name: 'c', comment: true } }], /^\/nftables\/1\/chain: "comment" must be a string/],
        [[TABLE, CHAIN, rule({ comment: 7 })], /^\/nftables\/2\/rule: "comment" must be a string/],
        [[TABLE, { set: { family: 'inet', table: 't', name: 's', type: 'ipv4_addr', comment: ['x'] } }], /^\/nftables\/1\/set: "comment" must be a string/],
        [[TABLE, { set: { family: 'inet', table: 't', name: 's', type: 'ipv4_addr', elem: ['192.0.2.1', { elem: { val: '192.0.2.2', comment: 2 } }] } }],
          /^\/nftables\/1\/set: elem\/1\/elem: "comment" must be a string/],
        [[TABLE, { map: { family: 'inet', table: 't', name: 'm', type: 'ipv4_addr', map: 'verdict', elem: [[{ elem: { val: '192.0.2.2', comment: null } }, { accept: null }]] } }],
          /^\/nftables\/1\/map: elem\/0\/0\/elem: "comment" must be a string/],
      ];
      for (const [items, re] of cases) {
        const e = errorOf(json(...items), 'f.json');
        assert.match(e.message, re);
        assert.ok(e.line > 1, e.message);
      }
    });

    it('keeps string comments, which print quoted and load back', () => {
      const a = new RulesetEngine();
      a.load(json({ table: { family: 'inet', name: 't', comment: '1' } }, CHAIN, rule({ comment: 'ok' })), 'f.json');
      assert.match(reloads(a.list()), /comment "1"/);
    });
  });
});
