import assert from 'node:assert/strict';
import { buildUdp } from '../packet/build.js';
import { RulesetEngine } from './engine.js';
import { Verdict } from './context.js';
import { formatChange } from './monitor.js';
import { Printer } from './printer.js';
import { verdict } from './modules/rule-test-kit.js';
import { refusal } from './test-refusal.js';

/** 100-byte UDP packets (IP header included). */
const v4 = (src: string): Uint8Array => buildUdp({ src, dst: '198.51.100.1', sport: 1, dport: 53, payload: 100 - 28 });
const v6 = (src: string): Uint8Array => buildUdp({ src, dst: '2001:db8:1::1', sport: 1, dport: 53, payload: 100 - 48 });

const RULESET = `table inet t {
	counter c1 {
		packets 0 bytes 0
	}

	quota q1 {
		over 300 bytes
	}

	limit l1 {
		rate 2/second burst 3 packets
	}

	chain fw {
		type filter hook forward priority filter; policy accept;
		ip saddr 192.0.2.1 counter name "c1"
		ip6 saddr 2001:db8::1 counter name "c1"
		ip saddr 192.0.2.2 quota name "q1" drop
		ip6 saddr 2001:db8::2 quota name "q1" drop
		ip saddr 192.0.2.3 limit name "l1" accept
		ip6 saddr 2001:db8::3 limit name "l1" accept
		ip saddr 192.0.2.3 drop
		ip6 saddr 2001:db8::3 drop
	}
}
`;

function load(text: string): RulesetEngine {
  const e = new RulesetEngine();
  e.load(text, 'x.nft');
  return e;
}

describe('named stateful objects (counter, quota, limit)', () => {
  it('parse and list as nft lists them; the listing and the JSON load back the same', () => {
    const e = load(RULESET);
    assert.equal(e.list(), RULESET);
    const again = load(e.list());
    assert.equal(again.list(), RULESET);
    const json = e.toJSON();
    const objs = json.nftables.filter((x) => 'counter' in x || 'quota' in x || 'limit' in x);
    assert.deepEqual(objs, [
      { counter: { family: 'inet', table: 't', name: 'c1', packets: 0, bytes: 0, handle: 2 } },
      { quota: { family: 'inet', table: 't', name: 'q1', bytes: 300, used: 0, inv: true, handle: 3 } },
      { limit: { family: 'inet', table: 't', name: 'l1', rate: 2, per: 'second', burst: 3, handle: 4 } },
    ]);
    const rule = json.nftables.find((x) => 'rule' in x) as { rule: { expr: unknown[] } };
    assert.deepEqual(rule.rule.expr[1], { counter: 'c1' });
    const fromJson = new RulesetEngine();
    fromJson.load(JSON.stringify(json));
    assert.equal(fromJson.list(), RULESET);
  });

  it('loads nft -j input: objects, and rules naming them with {"counter": "c1"}', () => {
    const e = new RulesetEngine();
    e.load({
      nftables: [
        { table: { family: 'ip', name: 'f' } },
        { counter: { family: 'ip', table: 'f', name: 'seen', packets: 7, bytes: 700 } },
        { chain: { family: 'ip', table: 'f', name: 'c', type: 'filter', hook: 'forward', prio: 0, policy: 'accept' } },
        { rule: { family: 'ip', table: 'f', chain: 'c', expr: [{ counter: 'seen' }] } },
      ],
    });
    verdict(e, v4('192.0.2.9'));
    assert.match(e.list(), /counter seen \{\n\t\tpackets 8 bytes 800\n\t\}/);
  });

  for (const six of [false, true]) {
    const p = six ? v6 : v4;
    const a = (n: number): string => (six ? `2001:db8::${n}` : `192.0.2.${n}`);
    it(`rules naming one object share its state (${six ? 'IPv6' : 'IPv4'})`, () => {
      const e = load(RULESET);
      // The counter: both families' rules count into c1.
      verdict(e, p(a(1)));
      verdict(e, p(a(1)));
      verdict(e, v4('192.0.2.1'));
      assert.match(e.list(), /counter c1 \{\n\t\tpackets 3 bytes 300\n\t\}/);
      // The quota: 300 bytes over both rules; `over` drops from the packet that passes it.
      assert.deepEqual([verdict(e, p(a(2))), verdict(e, v4('192.0.2.2')), verdict(e, v6('2001:db8::2')), verdict(e, p(a(2)))], [Verdict.Accept, Verdict.Accept, Verdict.Drop, Verdict.Drop]);
      assert.match(e.list(), /quota q1 \{\n\t\tover 300 bytes used 400 bytes\n\t\}/);
      // The limit: one bucket of 3 (the clock stands still), whichever rule takes from it.
      const got = [verdict(e, p(a(3))), verdict(e, v4('192.0.2.3')), verdict(e, v6('2001:db8::3')), verdict(e, p(a(3)))];
      assert.deepEqual(got, [Verdict.Accept, Verdict.Accept, Verdict.Accept, Verdict.Drop]);
    });
  }

  it('keeps its values across transactions, also when a rule naming it is replaced', () => {
    const e = load(RULESET);
    verdict(e, v4('192.0.2.1'));
    e.transaction('add rule inet t fw ip saddr 192.0.2.50 counter name "c1"');
    e.transaction('delete rule inet t fw handle 5');
    verdict(e, v4('192.0.2.50'));
    assert.match(e.list(), /packets 2 bytes 200/);
    // The cluster's canonical text (no live values) shows the object as declared, so nodes' counts never look like drift.
    assert.match(new Printer(e.registry).ruleset(e.ruleset), /counter c1 \{\n\t\tpackets 0 bytes 0\n/);
    assert.match(formatChange(e.transaction('add counter inet t c2 { packets 1 bytes 2 }').changes[0]!, e.registry), /^add counter inet t c2 \{ packets 1 bytes 2 \}$/);
  });

  it('refuses deleting an object a rule still names (nft: EBUSY), and deletes it once unused', () => {
    const e = load(RULESET);
    assert.equal(refusal(() => e.transaction('delete counter inet t c1')), "<transaction>:1:1: counter 'c1' is still used by 2 rule(s) (nft: Device or resource busy): delete or replace those rules first");
    assert.match(e.list(), /counter c1/);
    e.transaction('delete rule inet t fw handle 5\ndelete rule inet t fw handle 6\ndelete counter inet t c1');
    assert.doesNotMatch(e.list(), /c1/);
  });

  it('refuses misuse with its place', () => {
    assert.equal(refusal(() => load('table ip t {\n  chain c {\n    counter name "nope"\n  }\n}\n')), "x.nft:3:5: unknown counter 'nope' (declare it in the table: counter nope { ... })");
    assert.match(refusal(() => load('table ip t {\n  counter c { }\n  chain c {\n    counter name ip saddr map { 192.0.2.1 : "c" }\n  }\n}\n')), /^x\.nft:4:18: a map from keys to named objects .* is not supported yet/);
    assert.equal(refusal(() => load('table ip t {\n  limit l {\n    burst 5 packets\n  }\n}\n')), "x.nft:3:5: expected 'rate' in limit 'l' (e.g. rate 10/second)");
    assert.equal(refusal(() => load('table ip t {\n  quota q { 10 furlongs }\n}\n')), "x.nft:2:16: unknown unit 'furlongs' (bytes, kbytes, mbytes, gbytes)");
    const e = load(RULESET);
    assert.equal(refusal(() => e.transaction('create counter inet t c1')), "<transaction>:1:1: counter 'c1' already exists");
    assert.equal(refusal(() => e.transaction('delete quota inet t nope')), "<transaction>:1:1: unknown quota 'nope' in table inet t");
    assert.match(refusal(() => new RulesetEngine().load({ nftables: [{ table: { family: 'ip', name: 'f' } }, { quota: { family: 'ip', table: 'f', name: 'q' } }] })), /quota 'q': a quota object needs "bytes"/);
    // Found by the ruleset-json fuzz target: 1e309 is Infinity, which would list as 'bytes Infinity' (and not load back).
    assert.match(refusal(() => new RulesetEngine().load('{"nftables": [{"table": {"family": "ip", "name": "f"}}, {"counter": {"family": "ip", "table": "f", "name": "c", "packets": 0, "bytes": 1e309}}]}')), /counter 'c': counter bytes must be a non-negative integer/);
    assert.match(refusal(() => new RulesetEngine().load({ nftables: [{ table: { family: 'ip', name: 'f' } }, { chain: { family: 'ip', table: 'f', name: 'c' } }, { rule: { family: 'ip', table: 'f', chain: 'c', expr: [{ counter: { map: {} } }] } }] })), /is not supported yet/);
  });
});
