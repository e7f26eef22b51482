import assert from 'node:assert/strict';
import { RulesetEngine } from '../engine.js';
import { RulesetError } from '../errors.js';
import { ClassifyContext, Hook, Verdict } from '../context.js';
import { convertRuleset } from '../check.js';
import { fillPacket, type TestPacket } from '../test-packets.js';
import { describeModules } from '../schema.js';
import { NatKind } from '../../nat/binding.js';
import { NatFlags } from '../../nat/nat-flags.js';

const NAT_RULESET = `table ip nat {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "wan" tcp dport 8080 dnat to 192.0.2.100:5002
		dnat to tcp dport map { 80 : 192.0.2.10, 443 : 192.0.2.11 }
		udp dport 53 redirect to :5353
		redirect
	}

	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" masquerade
		ip saddr 10.0.0.0/8 meta l4proto tcp snat to 198.51.100.1:1024-2047 random,persistent
		snat to 198.51.100.1-198.51.100.9
		meta l4proto udp masquerade to :2000-3000 fully-random
	}
}
table inet n6 {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		tcp dport 8080 dnat ip6 to [2001:db8::10]:80
		tcp dport 8443 dnat ip6 to [2001:db8::10]-[2001:db8::1f]:443-444
	}

	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		snat ip6 to 2001:db8::1
	}
}
`;

function loadError(text: string): { line: number; col: number; message: string } {
  try {
    new RulesetEngine().load(text, 'f.nft');
  } catch (e) {
    if (e instanceof RulesetError) return e.errors[0];
    throw e;
  }
  throw new Error('expected an error');
}

function rulesOf(e: RulesetEngine): unknown[] {
  return e.toJSON().nftables.filter((x) => 'rule' in x).map((x) => (x as { rule: { expr: unknown[] } }).rule.expr.at(-1));
}

function classify(e: RulesetEngine, hook: Hook, p: TestPacket, natChains = true): { v: Verdict; ctx: ClassifyContext } {
  const ctx = new ClassifyContext();
  fillPacket(ctx.pkt, p);
  ctx.natChains = natChains;
  ctx.oif = e.ifnames.idOf('wan');
  ctx.iif = e.ifnames.idOf('wan');
  const v = e.compiled.classify(ctx, hook);
  return { v, ctx };
}

describe('nat statements: text, JSON, print', () => {
  it('prints every NAT statement form back as it was written (parse -> print is the identity)', () => {
    const e = new RulesetEngine();
    e.load(NAT_RULESET);
    assert.equal(e.list(), NAT_RULESET);
  });

  it('writes the libnftables JSON shape and converts JSON -> text -> JSON without loss', () => {
    const e = new RulesetEngine();
    e.load(NAT_RULESET);
    assert.deepEqual(rulesOf(e), [
      { dnat: { addr: '192.0.2.100', port: 5002 } },
      { dnat: { addr: { map: { key: { payload: { protocol: 'tcp', field: 'dport' } }, data: { set: [[80, '192.0.2.10'], [443, '192.0.2.11']] } } } } },
      { redirect: { port: 5353 } },
      { redirect: null },
      { masquerade: null },
      { snat: { addr: '198.51.100.1', port: { range: [1024, 2047] }, flags: ['random', 'persistent'] } },
      { snat: { addr: { range: ['198.51.100.1', '198.51.100.9'] } } },
      { masquerade: { port: { range: [2000, 3000] }, flags: ['fully-random'] } },
      { dnat: { family: 'ip6', addr: '2001:db8::10', port: 80 } },
      { dnat: { family: 'ip6', addr: { range: ['2001:db8::10', '2001:db8::1f'] }, port: { range: [443, 444] } } },
      { snat: { family: 'ip6', addr: '2001:db8::1' } },
    ]);
    const json = convertRuleset(NAT_RULESET, 'json');
    assert.equal(convertRuleset(json, 'nft'), NAT_RULESET);
    assert.equal(convertRuleset(convertRuleset(json, 'nft'), 'json'), json);
  });

  it('reads an IPv6 target with a port in brackets ([A]:P, [A]-[B]:P, [A-B]:P) and refuses a broken one with its place', () => {
    const e = new RulesetEngine();
    e.load('table ip6 n {\n chain pre { type nat hook prerouting priority dstnat; tcp dport 1 dnat to [2001:db8::1-2001:db8::2]:80 }\n}');
    assert.deepEqual(rulesOf(e), [{ dnat: { addr: { range: ['2001:db8::1', '2001:db8::2'] }, port: 80 } }]);
    assert.match(e.list(), /dnat to \[2001:db8::1\]-\[2001:db8::2\]:80/);
    const line2 = ' chain pre { type nat hook prerouting priority dstnat; dnat to [2001:db8::1:80 }';
    const err = loadError(`table ip6 n {\n${line2}\n}`);
    assert.deepEqual([err.line, err.col], [2, line2.indexOf('[') + 1]);
    assert.match(err.message, /expected \[IPv6 address\]:PORT in NAT target "\[2001:db8::1:80"/);
  });

  it('refuses a JSON address with white space or other characters (it would list as text that reads back differently)', () => {
    for (const addr of [' 192.0.2.100', '192.0.2.100 ', '192.0.2.1/24']) {
      const text = JSON.stringify({
        nftables: [
          { table: { family: 'ip', name: 'n' } },
          { chain: { family: 'ip', table: 'n', name: 'pre', type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' } },
          { rule: { family: 'ip', table: 'n', chain: 'pre', expr: [{ match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'tcp' } }, { dnat: { addr, port: 80 } }] } },
        ],
      }, null, 1);
      const err = loadError(text);
      assert.match(err.message, /dnat address .* is not an address/, JSON.stringify(addr));
      assert.ok(err.line > 1);
    }
  });

  it('accepts an IPv6 target with a port in JSON', () => {
    const e = new RulesetEngine();
    e.load({
      nftables: [
        { table: { family: 'ip6', name: 'n' } },
        { chain: { family: 'ip6', table: 'n', name: 'pre', type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' } },
        { rule: { family: 'ip6', table: 'n', chain: 'pre', expr: [{ match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'tcp' } }, { dnat: { addr: '2001:db8::10', port: 80 } }] } },
      ],
    } as never);
    const { v, ctx } = classify(e, Hook.Prerouting, { src: '2001:db8:1::1', dst: '2001:db8::1', dport: 8080 });
    assert.equal(v, Verdict.Accept);
    assert.equal(ctx.natDst?.kind, NatKind.Dnat);
    assert.equal(ctx.natDst?.portMin, 80);
    assert.equal(ctx.natDst?.family, 6);
  });

  it('describes the four statements in the schema', () => {
    const names = describeModules().map((m) => m.name);
    for (const n of ['snat', 'masquerade', 'dnat', 'redirect']) assert.ok(names.includes(n), n);
  });
});

describe('nat statements: positioned errors', () => {
  it('refuses snat outside a type nat chain at postrouting', () => {
    const err = loadError('table ip t {\n chain f { type filter hook forward priority 0;\n  snat to 1.2.3.4\n }\n}');
    assert.equal(err.line, 3);
    assert.match(err.message, /snat is only valid in a 'type nat' chain at hook postrouting.*type filter hook forward/);
  });

  it('refuses dnat and redirect in a postrouting nat chain, masquerade in prerouting', () => {
    assert.match(loadError('table ip t { chain p { type nat hook postrouting priority 100; dnat to 1.2.3.4 } }').message, /dnat is only valid.*prerouting/);
    assert.match(loadError('table ip t { chain p { type nat hook postrouting priority 100; redirect } }').message, /redirect is only valid/);
    assert.match(loadError('table ip t { chain p { type nat hook prerouting priority -100; masquerade } }').message, /masquerade is only valid.*postrouting/);
  });

  it('asks for the family of an address in an inet table', () => {
    assert.match(loadError('table inet t { chain p { type nat hook postrouting priority 100; snat to 1.2.3.4 } }').message, /needs the address family: 'snat ip to/);
  });

  it('refuses an address of the other family, an address on masquerade, a missing target, a bad port', () => {
    assert.match(loadError('table ip t { chain p { type nat hook postrouting priority 100; snat ip6 to 2001:db8::1 } }').message, /snat ip6 is not possible in an ip table/);
    assert.match(loadError('table ip6 t { chain p { type nat hook postrouting priority 100; snat to 1.2.3.4 } }').message, /not an IPv6 address/);
    const text = 'table ip t { chain p { type nat hook postrouting priority 100; masquerade to 1.2.3.4 } }';
    const m = loadError(text);
    assert.match(m.message, /takes no address/);
    assert.equal(m.col, text.indexOf('1.2.3.4') + 1); // points at the address
    assert.match(loadError('table ip t { chain p { type nat hook postrouting priority 100; snat } }').message, /snat needs a target/);
    assert.match(loadError('table ip t { chain p { type nat hook postrouting priority 100; meta l4proto tcp snat to 1.2.3.4:99999 } }').message, /out of range/);
    assert.match(loadError('table ip t { chain p { type nat hook postrouting priority 100; snat to 1.2.3.9-1.2.3.4 } }').message, /reversed/);
  });

  it('says a statement after a NAT statement never runs', () => {
    assert.match(loadError('table ip t { chain p { type nat hook postrouting priority 100; masquerade counter } }').message, /statement after 'masquerade' never runs/);
  });
});

describe('nat statements: compiled', () => {
  it('snat records its request in ctx.natSrc and ends the chain with accept', () => {
    const e = new RulesetEngine();
    e.load('table ip t { chain p { type nat hook postrouting priority 100; ip saddr 10.0.0.0/8 meta l4proto tcp snat to 198.51.100.1:1024-2047 persistent\n drop } }');
    const hit = classify(e, Hook.Postrouting, { src: '10.1.2.3', dst: '203.0.113.1', sport: 5000, dport: 80 });
    assert.equal(hit.v, Verdict.Accept);
    const r = hit.ctx.natSrc!;
    assert.equal(r.kind, NatKind.Snat);
    assert.deepEqual([...r.addrMin!], [198, 51, 100, 1]);
    assert.equal(r.portMin, 1024);
    assert.equal(r.portMax, 2047);
    assert.equal(r.flags, NatFlags.Persistent);
    assert.equal(hit.ctx.natDst, null);
    // No match: the next rule (drop) runs, and no request is left behind.
    const miss = classify(e, Hook.Postrouting, { src: '192.0.2.1', dst: '203.0.113.1' });
    assert.equal(miss.v, Verdict.Drop);
    assert.equal(miss.ctx.natSrc, null);
  });

  it('hands out the same request object on every packet (made once at compile time)', () => {
    const e = new RulesetEngine();
    e.load('table ip t { chain p { type nat hook postrouting priority 100; oifname "wan" masquerade } }');
    const a = classify(e, Hook.Postrouting, { src: '10.0.0.1', dst: '203.0.113.1' }).ctx.natSrc;
    const b = classify(e, Hook.Postrouting, { src: '10.0.0.2', dst: '203.0.113.2' }).ctx.natSrc;
    assert.equal(a?.kind, NatKind.Masquerade);
    assert.equal(a, b);
  });

  it('dnat map picks the address by the key; a key not in the map leaves the rule unapplied', () => {
    const e = new RulesetEngine();
    e.load('table ip t { chain p { type nat hook prerouting priority -100; dnat to tcp dport map { 80 : 192.0.2.10, 443 : 192.0.2.11 }\n drop } }');
    const a = classify(e, Hook.Prerouting, { src: '203.0.113.1', dst: '198.51.100.1', dport: 443 });
    assert.equal(a.v, Verdict.Accept);
    assert.deepEqual([...a.ctx.natDst!.addrMin!], [192, 0, 2, 11]);
    const b = classify(e, Hook.Prerouting, { src: '203.0.113.1', dst: '198.51.100.1', dport: 80 });
    assert.deepEqual([...b.ctx.natDst!.addrMin!], [192, 0, 2, 10]);
    const c = classify(e, Hook.Prerouting, { src: '203.0.113.1', dst: '198.51.100.1', dport: 22 });
    assert.equal(c.v, Verdict.Drop);
    assert.equal(c.ctx.natDst, null);
  });

  it('redirect to :PORT records a port-only request', () => {
    const e = new RulesetEngine();
    e.load('table ip t { chain p { type nat hook prerouting priority -100; udp dport 53 redirect to :5353 } }');
    const r = classify(e, Hook.Prerouting, { src: '10.0.0.1', dst: '10.0.0.254', proto: 'udp', dport: 53 }).ctx.natDst!;
    assert.equal(r.kind, NatKind.Redirect);
    assert.equal(r.addrMin, null);
    assert.equal(r.portMin, 5353);
  });

  it('snat ip / snat ip6 in an inet table apply only to their family', () => {
    const e = new RulesetEngine();
    e.load('table inet t { chain p { type nat hook postrouting priority 100; snat ip to 198.51.100.1\n snat ip6 to 2001:db8::1 } }');
    assert.equal(classify(e, Hook.Postrouting, { src: '10.0.0.1', dst: '203.0.113.1' }).ctx.natSrc?.family, 4);
    assert.equal(classify(e, Hook.Postrouting, { src: '2001:db8:9::1', dst: '2001:db8:8::1' }).ctx.natSrc?.family, 6);
  });

  it('skips type nat chains when ctx.natChains is false (not the first packet), filter chains still run', () => {
    const e = new RulesetEngine();
    e.load(`table ip t {
      chain p { type nat hook postrouting priority 100; masquerade }
      chain f { type filter hook postrouting priority 200; tcp dport 25 drop }
    }`);
    const later = classify(e, Hook.Postrouting, { src: '10.0.0.1', dst: '203.0.113.1', dport: 80 }, false);
    assert.equal(later.v, Verdict.Accept);
    assert.equal(later.ctx.natSrc, null);
    assert.equal(classify(e, Hook.Postrouting, { src: '10.0.0.1', dst: '203.0.113.1', dport: 25 }, false).v, Verdict.Drop);
    assert.equal(classify(e, Hook.Postrouting, { src: '10.0.0.1', dst: '203.0.113.1', dport: 80 }, true).ctx.natSrc?.kind, NatKind.Masquerade);
  });
});
